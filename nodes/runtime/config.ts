/**
 * ovi-config: one Runware account. Holds the API key (credential, or env RUNWARE_API_KEY) and owns the
 * Account service: the HTTP client, the tasks in flight, the poll scheduler and the concurrency cap.
 */
import { randomUUID } from 'crypto';
import { Account } from '../lib/account';
import { OviError, redact } from '../lib/errors';
import { ContextStore, FileStore, MemoryStore, StateStore } from '../lib/job-store';
import { DEFAULT_RETRY, RunwareClient } from '../lib/runware-client';
import * as path from 'path';
import { DEFAULT_ENDPOINT, OviConfigNode, apiKeyFor, isOviConfig, numberSetting, resolveEnv } from '../lib/config-ref';
import { isLocalUrl, replaceToken } from '../lib/msg-snapshot';
import { NODE_DEFAULTS, setting } from '../lib/node-defaults';
import { isPrivateHost } from '../lib/safe-download';
import { startFeed, stopFeed } from '../lib/sidebar';
import type { HttpRequest, HttpResponse, Node, NodeDef, RED } from '../lib/red-types';

const D = NODE_DEFAULTS['ovi-config'];

/** The node's runtime, after Node-RED's createNode. */
export function startConfig(RED: RED, self: Node, config: NodeDef): void {
  const node = self as OviConfigNode;
  const get = (key: string) => setting('ovi-config', config, key);
  node.endpoint = String(get('endpoint')).trim();
  node.publicUrl = String(get('publicUrl') ?? '')
    .trim()
    .replace(/\/+$/, '');
  const retries = numberSetting(get('retries'), D.retries as number, 0);
  const budget = numberSetting(get('budget'), 0, 0);
  node.account = new Account({
    endpoint: node.endpoint,
    apiKey: () => apiKeyFor(node.credentials?.apiKey),
    timeoutMs: numberSetting(get('timeout'), D.timeout as number, 1) * 1000,
    retry: { ...DEFAULT_RETRY, retries },
    maxConcurrent: numberSetting(get('maxConcurrent'), D.maxConcurrent as number, 0),
    budget: budget > 0 ? budget : undefined,
    costEstimate: numberSetting(get('costEstimate'), 0, 0) || undefined,
    requireCost: get('requireCost') === true || get('requireCost') === 'true',
    store: storeFor(RED, node, get('store')),
    // The stored token (stable across restarts), else the running node's (possibly temporary) one.
    webhookToken: (id) => resolveEnv(RED.nodes.getCredentials(id)?.token) || (RED.nodes.getNode(id) as { webhookToken?: string } | null)?.webhookToken,
    logger: { warn: (t) => node.warn(t), debug: (t) => node.debug(t) },
  });
  for (const w of cleartextWarnings(node.endpoint, node.publicUrl)) node.warn(w);
  // The editor's Ovi sidebar: failure texts reach every editor, so neither the key nor a webhook token may.
  startFeed(RED, node, (text) => replaceToken(redact(text, [apiKeyFor(node.credentials?.apiKey)]), '***'));
  node.on('close', (removed, done) => {
    stopFeed(node.id, removed);
    node.account.close().then(done, done);
  });
}

export { collectRoute, jobsRoute, mediaRoute } from '../lib/sidebar';

/** GET /ovi/cost/:id: the cost total and budget, for the config dialog. */
export function costRoute(RED: RED, req: HttpRequest, res: HttpResponse): void {
  const n = RED.nodes.getNode(String(req.params?.id ?? ''));
  if (!isOviConfig(n)) return void res.status(404).json({ error: 'not deployed' });
  res.json(n.account.cost);
}

/**
 * POST /ovi/test-connection: "Test connection" in the editor. A stored secret (the credential, or
 * RUNWARE_API_KEY) goes only to the endpoint of the deployed config node it belongs to (or, for the
 * environment key without a deployed node, to Runware's own API); any other endpoint needs the key
 * typed in the dialog. JSON bodies only: Node-RED's admin API also parses form posts, which any web
 * page can send.
 */
export function testConnectionRoute(RED: RED, req: HttpRequest, res: HttpResponse): void {
  if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) {
    return void res.status(415).json({ ok: false, status: 'error', message: 'JSON only' });
  }
  testConnection(RED, req.body).then(
    (answer) => res.json(answer),
    () => res.status(500).json({ ok: false, status: 'error', message: 'the test failed' }),
  );
}

/** Plain http carries the key (endpoint) or the webhook token (public URL) in clear off this machine. */
function cleartextWarnings(endpoint: string, publicUrl: string): string[] {
  const out: string[] = [];
  const offMachine = (url: string) => /^http:\/\//i.test(url) && !isLocalUrl(url) && !isPrivateHost(hostOf(url));
  if (offMachine(endpoint)) out.push('the endpoint ' + endpoint + ' is plain http: the API key travels in clear to another machine. Use https.');
  if (offMachine(publicUrl)) out.push('the public URL ' + publicUrl + ' is plain http: webhook tokens and results travel in clear. Use https.');
  return out;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

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
  status: 'ok' | 'invalidKey' | 'unreachable' | 'noKey' | 'needKey' | 'error';
  message: string;
}

/** The key and endpoint a test may use, or why not. */
function credentialsFor(RED: RED, b: Record<string, unknown>): { key?: string; endpoint: string } | TestAnswer {
  const id = typeof b.id === 'string' ? b.id : '';
  const asked = typeof b.endpoint === 'string' ? b.endpoint.trim() : '';
  // "__PWRD__" (unchanged in the dialog) or absent: the stored key. A typed key is the caller's own.
  const typed = typeof b.apiKey === 'string' && b.apiKey !== '__PWRD__' && b.apiKey !== '' ? b.apiKey : undefined;
  const deployed = id ? RED.nodes.getNode(id) : null;
  // The deployed endpoint, asked for as written (e.g. "${RUNWARE_ENDPOINT}") or as resolved: the only
  // variable ever expanded is the one the deployed config itself names.
  const own = isOviConfig(deployed) && (asked === '' || asked === deployed.endpoint || asked === rawEndpointOf(RED, id)) ? deployed.endpoint : undefined;
  if (typed !== undefined) {
    if (own) return { key: typed, endpoint: own };
    if (/\$\{/.test(asked) || /^\$\{\w+\}$/.test(typed.trim())) {
      return { ok: false, status: 'error', message: 'environment variables are not expanded in a test: deploy first, or type the full endpoint and key' };
    }
    return { key: typed, endpoint: asked || DEFAULT_ENDPOINT };
  }
  if (own) return { key: apiKeyFor(RED.nodes.getCredentials(id)?.apiKey), endpoint: own };
  if (isOviConfig(deployed)) {
    return {
      ok: false,
      status: 'needKey',
      message: 'the stored key is only sent to the deployed endpoint (' + deployed.endpoint + '): deploy the new endpoint first, or type the key here',
    };
  }
  // Not deployed: only the environment's key, and only to Runware's own API.
  if (asked !== '' && asked !== DEFAULT_ENDPOINT) {
    return { ok: false, status: 'needKey', message: 'type the API key to test another endpoint (a stored key is only sent to the deployed endpoint)' };
  }
  return { key: process.env.RUNWARE_API_KEY || undefined, endpoint: DEFAULT_ENDPOINT };
}

/** The endpoint as written in the deployed config (e.g. "${RUNWARE_ENDPOINT}"), if Node-RED shows it. */
function rawEndpointOf(RED: RED, id: string): string | undefined {
  let found: string | undefined;
  RED.nodes.eachNode?.((n) => {
    if (n.id === id && typeof n.endpoint === 'string') found = n.endpoint.trim();
  });
  return found;
}

async function testConnection(RED: RED, body: unknown): Promise<TestAnswer> {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const chosen = credentialsFor(RED, b);
  if ('status' in chosen) return chosen;
  const { key, endpoint } = chosen;
  if (!/^https?:\/\/[^\s/]+/i.test(endpoint)) return { ok: false, status: 'error', message: 'the endpoint must be an http(s) URL' };
  if (!key) return { ok: false, status: 'noKey', message: 'no API key: type one, or set RUNWARE_API_KEY' };
  const client = new RunwareClient({ endpoint, apiKey: () => key, timeoutMs: 10_000, retry: { retries: 0, baseMs: 0, maxMs: 0 } });
  try {
    // A getResponse for a task that cannot exist costs nothing and proves endpoint + key.
    await client.postOnce([{ taskType: 'getResponse', taskUUID: randomUUID() }]);
    return { ok: true, status: 'ok', message: 'connected' };
  } catch (e) {
    const err = e as OviError;
    const message = redact(err.message ?? String(e), [key]).slice(0, 300);
    if (err.code === 'notFound' || err.code === 'validation') return { ok: true, status: 'ok', message: 'connected' };
    if (err.code === 'auth') return { ok: false, status: 'invalidKey', message: '' };
    if (err.code === 'network' || err.code === 'timeout') return { ok: false, status: 'unreachable', message };
    return { ok: false, status: 'error', message };
  } finally {
    client.close();
  }
}
