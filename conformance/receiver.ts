/**
 * The probe's local receiver for webhook POSTs and upload PUTs. Runware reaches it through the
 * public URL the user gives (a tunnel or a reachable host); against the simulator it is local.
 * Paths carry a random token in the query, as the nodes do; the first webhook is answered 500 to
 * see whether Runware delivers it again.
 */
import { randomBytes } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { parseJson } from './http';
import type { Hit } from './observations';
import type { Transcript } from './transcript';

export interface Receiver {
  /** The base URL Runware is given (no trailing slash). */
  readonly publicUrl: string;
  readonly hits: Hit[];
  /** The text of the webhook body answered 500, once one was. */
  readonly refusedBody: string | undefined;
  hookUrl(): string;
  uploadUrl(taskUUID: string): string;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  host: string;
  port: number;
  /** Base URL as Runware sees it; default http://<host>:<port>. */
  publicUrl?: string;
  transcript: Transcript;
  /** Largest body kept (uploads are counted, not stored). */
  maxBodyBytes?: number;
}

const PATH = '/ovi-conformance';

export async function startReceiver(opts: ReceiverOptions): Promise<Receiver> {
  const token = randomBytes(16).toString('hex');
  opts.transcript.secret(token);
  const hits: Hit[] = [];
  let refusedBody: string | undefined;
  const limit = opts.maxBodyBytes ?? 64 * 1024 * 1024;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => {
      const url = req.url ?? '/';
      const [path, query = ''] = url.split('?');
      const tokenOk = new URLSearchParams(query).get('token') === token;
      const kind = path === `${PATH}/hook` ? 'webhook' : path.startsWith(`${PATH}/upload/`) ? 'upload' : undefined;
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      if (!kind) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.concat(chunks);
      const hit: Hit = { kind, method: req.method ?? '?', url, headers, size, answered: 200, tokenOk, at: Date.now() };
      if (kind === 'webhook') {
        hit.text = body.toString('utf8');
        hit.json = parseJson(hit.text);
        if (tokenOk && refusedBody === undefined) {
          refusedBody = hit.text;
          hit.answered = 500;
        }
      } else {
        hit.head = body.subarray(0, 16).toString('hex');
      }
      if (!tokenOk) hit.answered = 403;
      hits.push(hit);
      opts.transcript.add({
        check: kind === 'webhook' ? 'C11' : 'C12',
        kind,
        request: { method: hit.method, url, headers, body: kind === 'webhook' ? (hit.json ?? hit.text) : `(${size} bytes, starting ${hit.head})` },
        response: { status: hit.answered },
      });
      res.writeHead(hit.answered, { 'Content-Type': 'text/plain' }).end(hit.answered === 200 ? 'ok' : 'refused by the conformance probe');
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const base = (opts.publicUrl ?? `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${port}`).replace(/\/+$/, '');

  return {
    publicUrl: base,
    hits,
    get refusedBody() {
      return refusedBody;
    },
    hookUrl: () => `${base}${PATH}/hook?token=${token}`,
    uploadUrl: (taskUUID) => `${base}${PATH}/upload/${taskUUID}.mp4?token=${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
