/**
 * Routes on Node-RED's HTTP node server: the raw body reader with a size cap (RED.httpNode has no
 * body parser), raw-body capture ahead of the admin app's parsers, and route removal on close the
 * way core 21-httpin.js does it (Express keeps routes in its router stack; Express 4 calls it
 * _router, Express 5 router).
 */
import type { Handler, HttpApp, HttpRequest, RouterLayer } from './red-types';

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Captured = HttpRequest & { _body?: boolean; readableEnded?: boolean; _oviRaw?: string; _oviTooLarge?: boolean };

/**
 * The body as text. Read from the stream, or taken from the capture layer below. When another
 * parser got there first (the admin app parses JSON for every request under httpAdminRoot, and
 * httpAdminRoot and httpNodeRoot are both "/" by default), its object is used, checked for depth
 * before anything walks it recursively.
 */
export function readBody(req: HttpRequest, limit: number, maxDepth: number): Promise<string> {
  const r = req as Captured;
  if (r._oviTooLarge) return Promise.reject(new BodyError(413, 'body larger than ' + limit + ' bytes'));
  if (typeof r._oviRaw === 'string') return Promise.resolve(r._oviRaw);
  if (typeof req.body === 'string') return Promise.resolve(req.body);
  if (r._body === true || r.readableEnded) {
    if (req.body === null || typeof req.body !== 'object') return Promise.resolve('');
    if (depthOf(req.body) > maxDepth) return Promise.reject(new BodyError(400, 'body nested too deeply'));
    const text = JSON.stringify(req.body);
    return Buffer.byteLength(text) > limit ? Promise.reject(new BodyError(413, 'body larger than ' + limit + ' bytes')) : Promise.resolve(text);
  }
  return readStream(req, limit);
}

function readStream(req: HttpRequest, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyError(413, 'body larger than ' + limit + ' bytes'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new BodyError(413, 'body larger than ' + limit + ' bytes'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (e) => {
      if (!failed) {
        failed = true;
        reject(new BodyError(400, 'request aborted: ' + e.message));
      }
    });
  });
}

/** Nesting depth of a parsed value, without recursion (a hostile body can be thousands deep). */
export function depthOf(value: unknown, stopAt = 64): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > stopAt) return max;
    for (const child of Object.values(v as Record<string, unknown>)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return max;
}

/** Nesting depth of JSON text, scanned once (strings skipped): checked before JSON.parse and any recursion. */
export function textDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

/** Express 4 keeps the router in _router (created with the first route) and throws on app.router. */
function routerOf(app: HttpApp): { stack: RouterLayer[] } | undefined {
  if (app._router) return app._router;
  try {
    const r = app.router;
    return r && Array.isArray(r.stack) ? r : undefined;
  } catch {
    return undefined;
  }
}

export function removeRoute(app: HttpApp, path: string, method: string, handler: Handler): void {
  const router = routerOf(app);
  if (!router) return;
  for (let i = router.stack.length - 1; i >= 0; i--) {
    const route = router.stack[i].route;
    if (route && route.path === path && route.methods?.[method] && (route.stack ?? []).some((l) => l.handle === handler)) router.stack.splice(i, 1);
  }
}

export function hasRoute(app: HttpApp, path: string, method: string): boolean {
  const router = routerOf(app);
  return !!router?.stack.some((l) => l.route?.path === path && l.route.methods?.[method]);
}

// ------------------------------------------------------------------ raw-body capture

interface CaptureEntry {
  limit: number;
  /** Only requests that carry the right token are read ahead (an unauthenticated body is never read). */
  authorized(req: HttpRequest): boolean;
}

const captures = new Map<string, Set<CaptureEntry>>();
const installed = new WeakSet<object>();

function captureLayer(req: HttpRequest, _res: unknown, next: (err?: unknown) => void): void {
  const r = req as Captured & { path?: string };
  const entries = r.method === 'POST' && !r._body && typeof r.path === 'string' ? captures.get(r.path) : undefined;
  const entry = entries ? [...entries].find((e) => e.authorized(req)) : undefined;
  if (!entry) return next();
  r._body = true; // the admin app's body parsers skip a request whose body was read
  readStream(req, entry.limit).then(
    (text) => {
      r._oviRaw = text;
      next();
    },
    () => {
      r._oviTooLarge = true;
      req.resume();
      next();
    },
  );
}

/**
 * Node-RED mounts its admin app ahead of the HTTP node server, and with the default roots (both "/")
 * the admin app's JSON and url-encoded parsers consume every request body first: a url-encoded
 * Content-Type would mangle a JSON body, and JSON.parse loses seed digits beyond 2^53. This puts one
 * small layer at the front of the admin app that keeps the raw body of authenticated POSTs to our
 * webhook paths instead. Returns the function that removes this path again.
 */
export function captureRawBodies(admin: HttpApp | undefined, adminRoot: unknown, fullPath: string, entry: CaptureEntry): () => void {
  if (!admin || typeof adminRoot !== 'string') return () => undefined;
  const root = adminRoot.replace(/\/+$/, '');
  if (root !== '' && !fullPath.startsWith(root + '/')) return () => undefined; // the admin app never sees it
  const key = fullPath.slice(root.length);
  // RED.httpAdmin is the runtime's app, mounted inside the editor API's app, which holds the body
  // parsers: the layer goes in front of them, in whichever app of the chain has them.
  const app = appWithParsers(admin);
  if (app && !installed.has(app)) {
    try {
      const router = routerOf(app) as { stack: RouterLayer[] };
      app.use?.(captureLayer as unknown as Handler);
      const layer = router.stack.pop() as RouterLayer;
      const at = router.stack.findIndex((l) => PARSERS.includes(l.name ?? ''));
      router.stack.splice(at >= 0 ? at : router.stack.length, 0, layer);
      installed.add(app);
    } catch {
      return () => undefined; // an admin app we do not understand: bodies come as it parsed them
    }
  }
  let set = captures.get(key);
  if (!set) captures.set(key, (set = new Set()));
  set.add(entry);
  return () => {
    set?.delete(entry);
    if (set && set.size === 0) captures.delete(key);
  };
}

const PARSERS = ['jsonParser', 'urlencodedParser', 'textParser', 'rawParser'];

/** The app (RED.httpAdmin or an app it is mounted in, which Express records as `parent`) that parses bodies. */
function appWithParsers(admin: HttpApp): HttpApp | undefined {
  let app: (HttpApp & { parent?: HttpApp }) | undefined = admin;
  for (let depth = 0; app && depth < 4; depth++) {
    const router = routerOf(app);
    if (router?.stack.some((l) => PARSERS.includes(l.name ?? ''))) return app;
    app = app.parent;
  }
  return undefined;
}
