/**
 * ovi webhook: the URL Runware POSTs results to. Safe to expose: a per-node secret token in the query
 * string (the only credential Runware's webhooks can carry), compared in constant time and checked
 * before the body is read; any Content-Type (the token authenticates, and Runware's is not
 * documented), size- and depth-capped, validated; 2xx at once, work after. Redeliveries are
 * acknowledged and not emitted twice. Every answer is a short JSON without internals, and nothing a
 * body holds can end the process.
 */
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import { OviError } from '../lib/errors';
import { configNode, numberSetting, resolveEnv } from '../lib/config-ref';
import { BodyError, captureRawBodies, hasRoute, readBody, removeRoute, textDepth } from '../lib/http-route';
import { JobRecord, Sink } from '../lib/job-hub';
import { parseLossless } from '../lib/lossless-json';
import { joinUrl } from '../lib/msg-snapshot';
import { NODE_DEFAULTS, setting } from '../lib/node-defaults';
import { reportError, safely, toNodeError } from '../lib/node-emit';
import { failureMsg, outcomeBase, resultMsg } from '../lib/result-msg';
import { OutputGuard, applyOutput, outputOptionsFrom } from '../lib/result-output';
import { Envelope, errorFromItem } from '../lib/runware-client';
import { MAX_DEPTH, byTask, readWebhookBody } from '../lib/webhook-payload';
import type { Handler, HttpRequest, HttpResponse, Node, NodeDef, NodeMessage, RED } from '../lib/red-types';

const SEEN_MEMORY = 10_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Compare hashes: equal lengths for timingSafeEqual, no early exit on a length mismatch. */
function sameSecret(given: unknown, expectedHash: Buffer): boolean {
  return typeof given === 'string' && timingSafeEqual(sha256(given), expectedHash);
}

function normalisePath(path: unknown): string {
  const p = typeof path === 'string' && path.trim() ? path.trim() : (NODE_DEFAULTS['ovi-webhook'].path as string);
  return p.startsWith('/') ? p : '/' + p;
}

export function setup(RED: RED): (this: Node, def: NodeDef) => void {
  return function OviWebhook(this: Node, def: NodeDef) {
    const node = this as Node & { path: string; configId?: string };
    const get = (key: string) => setting('ovi-webhook', def, key);
    const path = normalisePath(get('path'));
    node.path = path;
    node.configId = typeof def.config === 'string' ? def.config : undefined;
    const config = configNode(RED, def.config);
    const maxBody = numberSetting(get('maxBody'), NODE_DEFAULTS['ovi-webhook'].maxBody as number, 1);
    // No token yet (e.g. a flow imported from the examples: imports carry no credentials): a random
    // one for this process, so the flow works at once; open and deploy the node to make it permanent.
    const configured = resolveEnv(node.credentials?.token);
    const token = configured || randomBytes(32).toString('hex');
    // Read by ovi submit to build the webhookURL; non-enumerable so it never lands in a dump of the node.
    Object.defineProperty(node, 'webhookToken', { value: token, enumerable: false });
    const tokenHash = sha256(token); // once per node, not per request
    // Results for tasks this Node-RED did not submit are still emitted once each.
    const seen = new Map<string, true>();
    const output = outputOptionsFrom('ovi-webhook', def, RED.settings.userDir || process.cwd());
    const guard: OutputGuard = {
      account: config?.account,
      acceptForeign: output.acceptForeign,
      written: (file, item) => config?.account.noteFile(item.taskUUID, file, item),
    };
    const abort = new AbortController();

    if (!RED.httpNode) {
      node.error('Node-RED has no HTTP node server (httpNodeRoot is false): ovi webhook cannot receive results');
      return;
    }
    if (!config) node.warn('no ovi-config node: results cannot be correlated with submitted tasks');

    /** Apply the output mode, then send; a failed or refused download goes to Catch nodes with that result's msg. */
    const emit = (msg: NodeMessage, item: Parameters<Sink['result']>[1]) => {
      applyOutput(msg, item, output, guard, abort.signal)
        .then(() => safely(node, 'send a result', () => node.send(msg)))
        .catch((e: unknown) => reportError(node, toNodeError(node, e, 'ovi webhook output'), msg));
    };

    const sink: Sink = {
      result(rec: JobRecord, item, index) {
        emit(resultMsg(outcomeBase(RED.util.cloneMessage(rec.msg) as NodeMessage), rec, item, index), item);
      },
      failure(rec: JobRecord, err: OviError, index) {
        reportError(node, err, failureMsg(RED.util.cloneMessage(rec.msg) as NodeMessage, rec, index));
      },
    };
    config?.account.addSink(node.id, sink, 'webhook');

    function ingest(delivery: Envelope): void {
      for (const [uuid, env] of byTask(delivery)) {
        const outcome = config ? config.account.hub.ingest(uuid, env, { via: 'webhook', nodeId: node.id }) : 'unknown';
        if (outcome !== 'unknown') continue;
        // A task this account never submitted (or forgot): emitted once, marked, never downloaded
        // unless the node accepts foreign results.
        for (const item of env.data) {
          const key = uuid + ':' + String(item.videoUUID ?? item.videoURL ?? item.status ?? '');
          if (seen.has(key)) continue;
          remember(key);
          const msg = resultMsg({ _msgid: RED.util.generateId() }, undefined, item, 0);
          msg.ovi = { ...(msg.ovi as Record<string, unknown>), uncorrelated: true };
          emit(msg, item);
        }
        for (const e of env.errors) {
          const key = uuid + ':error:' + String(e.code ?? '');
          if (seen.has(key)) continue;
          remember(key);
          reportError(node, errorFromItem(e), { _msgid: RED.util.generateId(), taskUUID: uuid, ovi: { uncorrelated: true } });
        }
      }
    }

    function remember(key: string): void {
      seen.set(key, true);
      if (seen.size > SEEN_MEMORY) seen.delete(seen.keys().next().value as string);
    }

    const authorized = (req: HttpRequest): boolean => {
      const given = req.query?.token;
      return given !== undefined && given !== '' && sameSecret(given, tokenHash);
    };

    const handler: Handler = (req: HttpRequest, res: HttpResponse) => {
      // A plain write: this is the hot path of every delivery (res.json adds an ETag and more).
      const reply = (status: number, body: Record<string, unknown>) => {
        if (res.headersSent) return;
        const text = JSON.stringify(body);
        if (status >= 400) res.setHeader('Connection', 'close');
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      try {
        const given = req.query?.token;
        if (given === undefined || given === '') return void reply(401, { error: 'missing token' });
        if (!sameSecret(given, tokenHash)) return void reply(403, { error: 'wrong token' });
        readBody(req, maxBody, MAX_DEPTH)
          .then((text) => {
            if (textDepth(text) > MAX_DEPTH) return reply(400, { error: 'body nested too deeply' });
            let body: unknown;
            try {
              body = parseLossless(text);
            } catch {
              return reply(400, { error: 'malformed JSON' });
            }
            const read = readWebhookBody(body);
            if (!read.ok) return reply(400, { error: read.reason });
            reply(200, { received: true });
            // Acknowledge first: Runware redelivers on a slow or failed answer.
            setImmediate(() =>
              safely(node, 'process a delivery', () => {
                for (const e of read.unattributed) {
                  node.warn(
                    'ovi webhook: a delivered error names no task (' +
                      String(e.code ?? 'no code').slice(0, 80) +
                      ': ' +
                      String(e.message ?? '').slice(0, 200) +
                      ')',
                  );
                }
                ingest(read.env);
              }),
            );
          })
          .catch((e: unknown) => {
            const status = e instanceof BodyError ? e.status : 400;
            reply(status, { error: status === 413 ? 'body too large' : e instanceof BodyError && status === 400 ? e.message.slice(0, 60) : 'bad request' });
            safely(node, 'drain a request', () => req.resume());
          });
      } catch {
        reply(500, { error: 'internal error' });
      }
    };

    if (hasRoute(RED.httpNode, path, 'post')) node.warn('another route already answers POST ' + path + ': the first one registered wins');
    RED.httpNode.post(path, handler);
    const nodeRoot = typeof RED.settings.httpNodeRoot === 'string' ? RED.settings.httpNodeRoot : '/';
    const uncapture = captureRawBodies(RED.httpAdmin, RED.settings.httpAdminRoot ?? '/', joinUrl('', nodeRoot, path) || '/', {
      limit: maxBody,
      authorized,
    });

    node.on('close', (_removed, done) => {
      abort.abort();
      uncapture();
      if (RED.httpNode) removeRoute(RED.httpNode, path, 'post', handler);
      config?.account.removeSink(node.id, sink);
      seen.clear();
      done();
    });
  };
}
