/**
 * ovi-config: one Runware account. Holds the API key (credential, or env RUNWARE_API_KEY) and owns the
 * Account service: the HTTP client, the tasks in flight, the poll scheduler and the concurrency cap.
 */
import { randomUUID } from 'crypto';
import { Account } from './lib/account';
import { OviError, redact } from './lib/errors';
import { ContextStore, FileStore, MemoryStore, StateStore } from './lib/job-store';
import { DEFAULT_RETRY, RunwareClient } from './lib/runware-client';
import * as path from 'path';
import { DEFAULT_ENDPOINT, OviConfigNode, apiKeyFor, isOviConfig, numberSetting, resolveEnv } from './lib/config-ref';
import type { HttpRequest, HttpResponse, Node, NodeDef, RED } from './lib/red-types';

export = function (RED: RED) {
  function OviConfig(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    const node = this as OviConfigNode;
    node.endpoint = String(config.endpoint || DEFAULT_ENDPOINT).trim();
    node.publicUrl = String(config.publicUrl || '')
      .trim()
      .replace(/\/+$/, '');
    const retries = numberSetting(config.retries, DEFAULT_RETRY.retries, 0);
    const budget = numberSetting(config.budget, 0, 0);
    node.account = new Account({
      endpoint: node.endpoint,
      apiKey: () => apiKeyFor(node.credentials?.apiKey),
      timeoutMs: numberSetting(config.timeout, 60, 1) * 1000,
      retry: { ...DEFAULT_RETRY, retries },
      maxConcurrent: numberSetting(config.maxConcurrent, 10, 0),
      budget: budget > 0 ? budget : undefined,
      store: storeFor(RED, node, config.store),
      // The stored token (stable across restarts), else the running node's (possibly temporary) one.
      webhookToken: (id) => resolveEnv(RED.nodes.getCredentials(id)?.token) || (RED.nodes.getNode(id) as { webhookToken?: string } | null)?.webhookToken,
      logger: { warn: (t) => node.warn(t), debug: (t) => node.debug(t) },
    });
    node.on('close', (_removed, done) => {
      node.account.close().then(done, done);
    });
  }
  RED.nodes.registerType('ovi-config', OviConfig, {
    credentials: { apiKey: { type: 'password' } },
  });

  // The cost total and budget, for the config dialog.
  if (RED.httpAdmin && RED.auth) {
    RED.httpAdmin.get('/ovi/cost/:id', RED.auth.needsPermission('ovi-config.read'), (req: HttpRequest, res: HttpResponse) => {
      const n = RED.nodes.getNode(String(req.params?.id ?? ''));
      if (!isOviConfig(n)) return void res.status(404).json({ error: 'not deployed' });
      res.json(n.account.cost);
    });
  }

  // "Test connection" in the editor: works for a config node that is not deployed yet (the key typed
  // in the dialog, or the stored one), answers ok / invalidKey / unreachable, never echoes the key.
  if (RED.httpAdmin && RED.auth) {
    RED.httpAdmin.post('/ovi/test-connection', RED.auth.needsPermission('ovi-config.write'), (req: HttpRequest, res: HttpResponse) => {
      void testConnection(RED, req.body).then((answer) => res.json(answer));
    });
  }
};

/**
 * Jobs in flight survive restarts: by default in <userDir>/.ovi/jobs-<config id>.json; with a store
 * name, in that Node-RED context store (e.g. a shared Redis-backed one); without a userDir, in memory.
 */
function storeFor(RED: RED, node: Node, store: unknown): StateStore {
  if (typeof store === 'string' && store.trim()) return new ContextStore(node.context(), store.trim(), 'ovi-jobs');
  const dir = RED.settings.userDir;
  return dir ? new FileStore(path.join(dir, '.ovi', 'jobs-' + node.id.replace(/[^\w.-]/g, '_') + '.json')) : new MemoryStore();
}

interface TestAnswer {
  ok: boolean;
  status: 'ok' | 'invalidKey' | 'unreachable' | 'noKey' | 'error';
  message: string;
}

async function testConnection(RED: RED, body: unknown): Promise<TestAnswer> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const id = typeof b.id === 'string' ? b.id : '';
  // Absent or "__PWRD__" (unchanged in the dialog): the stored key. "" (cleared): the environment only.
  const given = typeof b.apiKey === 'string' && b.apiKey !== '__PWRD__' ? b.apiKey : undefined;
  const key = given !== undefined ? apiKeyFor(given || undefined) : apiKeyFor(id ? RED.nodes.getCredentials(id)?.apiKey : undefined);
  const endpointRaw = typeof b.endpoint === 'string' && b.endpoint.trim() ? b.endpoint.trim() : DEFAULT_ENDPOINT;
  const endpoint = endpointRaw.replace(/\$\{(\w+)\}/g, (_m, name: string) => process.env[name] ?? '');
  if (!/^https?:\/\/[^\s/]+/i.test(endpoint)) return { ok: false, status: 'error', message: 'the endpoint must be an http(s) URL' };
  if (!key) return { ok: false, status: 'noKey', message: 'no API key: type one, or set RUNWARE_API_KEY' };
  const client = new RunwareClient({ endpoint, apiKey: () => key, timeoutMs: 10_000, retry: { retries: 0, baseMs: 0, maxMs: 0 } });
  try {
    // A getResponse for a task that cannot exist costs nothing and proves endpoint + key.
    await client.postOnce([{ taskType: 'getResponse', taskUUID: randomUUID() }]);
    return { ok: true, status: 'ok', message: 'connected' };
  } catch (e) {
    const err = e as OviError;
    const message = redact(err.message ?? String(e), [key]);
    if (err.code === 'notFound' || err.code === 'validation') return { ok: true, status: 'ok', message: 'connected' };
    if (err.code === 'auth') return { ok: false, status: 'invalidKey', message: 'the API key was refused' };
    if (err.code === 'network' || err.code === 'timeout') return { ok: false, status: 'unreachable', message };
    return { ok: false, status: 'error', message };
  } finally {
    client.close();
  }
}
