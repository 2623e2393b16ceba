/**
 * Routes on Node-RED's HTTP node server: the raw JSON body reader with a size cap (RED.httpNode has
 * no body parser), and route removal on close the way core 21-httpin.js does it (Express keeps
 * routes in its router stack; Express 4 calls it _router, Express 5 router).
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

export function readBody(req: HttpRequest, limit: number): Promise<string> {
  if (typeof req.body === 'string') return Promise.resolve(req.body);
  // Already read by a body parser that ran first: Node-RED's admin app parses JSON for every request
  // under httpAdminRoot, and httpAdminRoot and httpNodeRoot are both "/" by default (also on the Home
  // Assistant add-on). The stream is drained then: use what it parsed, as core http-in does via
  // req._body (integers beyond 2^53 lose precision on this path: JSON.parse read them).
  const parsed = req as HttpRequest & { _body?: boolean; readableEnded?: boolean };
  if (parsed._body === true || parsed.readableEnded) {
    const text = req.body !== null && typeof req.body === 'object' ? JSON.stringify(req.body) : '';
    return Buffer.byteLength(text) > limit ? Promise.reject(new BodyError(413, 'body larger than ' + limit + ' bytes')) : Promise.resolve(text);
  }
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
