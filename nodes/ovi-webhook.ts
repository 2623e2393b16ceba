/**
 * ovi webhook: the URL Runware POSTs results to. Safe to expose: a per-node secret token in the query
 * string (the only credential Runware's webhooks can carry), compared in constant time and checked
 * before the body is read; JSON only, size-capped, validated; 2xx at once, work after. Redeliveries
 * are acknowledged and not emitted twice.
 */
import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import { OviError } from './lib/errors';
import { configNode, numberSetting, resolveEnv } from './lib/config-ref';
import { BodyError, hasRoute, readBody, removeRoute } from './lib/http-route';
import { JobRecord, Sink } from './lib/job-hub';
import { parseLossless } from './lib/lossless-json';
import { resultMsg } from './lib/result-msg';
import { applyOutput, outputOptionsFrom } from './lib/result-output';
import { Envelope, errorFromItem } from './lib/runware-client';
import { byTask, readWebhookBody } from './lib/webhook-payload';
import type { Handler, HttpRequest, HttpResponse, Node, NodeDef, NodeMessage, RED } from './lib/red-types';

const DEFAULT_MAX_BODY = 1024 * 1024;
const SEEN_MEMORY = 10_000;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Compare hashes: equal lengths for timingSafeEqual, no early exit on a length mismatch. */
function sameSecret(given: unknown, expectedHash: Buffer): boolean {
  return typeof given === 'string' && timingSafeEqual(sha256(given), expectedHash);
}

function normalisePath(path: unknown): string {
  const p = typeof path === 'string' && path.trim() ? path.trim() : '/ovi/results';
  return p.startsWith('/') ? p : '/' + p;
}

export = function (RED: RED) {
  function OviWebhook(this: Node, def: NodeDef) {
    RED.nodes.createNode(this, def);
    const node = this as Node & { path: string; configId?: string };
    const path = normalisePath(def.path);
    node.path = path;
    node.configId = typeof def.config === 'string' ? def.config : undefined;
    const config = configNode(RED, def.config);
    const maxBody = numberSetting(def.maxBody, DEFAULT_MAX_BODY, 1);
    // No token yet (e.g. a flow imported from the examples: imports carry no credentials): a random
    // one for this process, so the flow works at once; open and deploy the node to make it permanent.
    const configured = resolveEnv(node.credentials?.token);
    const token = configured || randomBytes(32).toString('hex');
    // Read by ovi submit to build the webhookURL; non-enumerable so it never lands in a dump of the node.
    Object.defineProperty(node, 'webhookToken', { value: token, enumerable: false });
    const tokenHash = sha256(token); // once per node, not per request
    // Results for tasks this Node-RED did not submit are still emitted once each.
    const seen = new Map<string, true>();
    const output = outputOptionsFrom(def, RED.settings.userDir || process.cwd());
    const abort = new AbortController();

    if (!RED.httpNode) {
      node.error('Node-RED has no HTTP node server (httpNodeRoot is false): ovi webhook cannot receive results');
      return;
    }
    if (!configured)
      node.warn(
        'no token configured: using a temporary one until this node is opened and deployed (results of tasks submitted before a restart then come by polling)',
      );
    if (!config) node.warn('no ovi-config node: results cannot be correlated with submitted tasks');

    const emitFailure = (msg: NodeMessage, err: OviError) => {
      msg.error = err.toJSON();
      node.error(err, msg);
    };

    /** Apply the output mode, then send; a failed download goes to Catch nodes with that result's msg. */
    const emit = (msg: NodeMessage, item: Parameters<Sink['result']>[1]) => {
      applyOutput(msg, item, output, abort.signal)
        .then(() => node.send(msg))
        .catch((e: unknown) => emitFailure(msg, e instanceof OviError ? e : new OviError({ code: 'download', message: String(e) })));
    };

    const sink: Sink = {
      result(rec: JobRecord, item, index) {
        emit(resultMsg(RED.util.cloneMessage(rec.msg) as NodeMessage, rec, item, index), item);
      },
      failure(rec: JobRecord, err: OviError) {
        const msg = RED.util.cloneMessage(rec.msg) as NodeMessage;
        msg.taskUUID = rec.taskUUID;
        emitFailure(msg, err);
      },
    };
    config?.account.addSink(node.id, sink, 'webhook');

    function ingest(delivery: Envelope): void {
      for (const [uuid, env] of byTask(delivery)) {
        const outcome = config ? config.account.hub.ingest(uuid, env) : 'unknown';
        if (outcome !== 'unknown') continue;
        for (const item of env.data) {
          const key = uuid + ':' + (item.videoUUID ?? item.videoURL ?? '');
          if (seen.has(key)) continue;
          seen.set(key, true);
          if (seen.size > SEEN_MEMORY) seen.delete(seen.keys().next().value as string);
          const msg = resultMsg({ _msgid: RED.util.generateId() }, undefined, item, 0);
          msg.ovi = { ...(msg.ovi as Record<string, unknown>), uncorrelated: true };
          emit(msg, item);
        }
        for (const e of env.errors) {
          const key = uuid + ':error';
          if (seen.has(key)) continue;
          seen.set(key, true);
          emitFailure({ _msgid: RED.util.generateId(), taskUUID: uuid, ovi: { uncorrelated: true } }, errorFromItem(e));
        }
      }
    }

    const handler: Handler = (req: HttpRequest, res: HttpResponse) => {
      // A plain write: this is the hot path of every delivery (res.json adds an ETag and more).
      const reply = (status: number, body: Record<string, unknown>) => {
        if (res.headersSent) return;
        const text = JSON.stringify(body);
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      const given = req.query?.token;
      if (given === undefined || given === '') {
        res.set('Connection', 'close');
        return void reply(401, { error: 'missing token' });
      }
      if (!sameSecret(given, tokenHash)) {
        res.set('Connection', 'close');
        return void reply(403, { error: 'wrong token' });
      }
      const type = String(req.headers['content-type'] ?? '').toLowerCase();
      if (!/^application\/([\w.+-]+\+)?json\b/.test(type)) {
        res.set('Connection', 'close');
        return void reply(415, { error: 'JSON only (Content-Type: application/json)' });
      }
      readBody(req, maxBody)
        .then((text) => {
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
          setImmediate(() => {
            try {
              ingest(read.env);
            } catch (e) {
              node.warn('ovi webhook: could not process a delivery: ' + (e instanceof Error ? e.message : String(e)));
            }
          });
        })
        .catch((e: unknown) => {
          const status = e instanceof BodyError ? e.status : 400;
          res.set('Connection', 'close');
          reply(status, { error: status === 413 ? 'body too large' : 'bad request' });
          req.resume();
        });
    };

    if (hasRoute(RED.httpNode, path, 'post')) node.warn('another route already answers POST ' + path + ': the first one registered wins');
    RED.httpNode.post(path, handler);

    node.on('close', (_removed, done) => {
      abort.abort();
      if (RED.httpNode) removeRoute(RED.httpNode, path, 'post', handler);
      config?.account.removeSink(node.id, sink);
      seen.clear();
      done();
    });
  }

  RED.nodes.registerType('ovi-webhook', OviWebhook, { credentials: { token: { type: 'text' } } });
};
