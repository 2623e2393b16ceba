/**
 * Plain HTTP for the probe: Node's http/https and nothing of the nodes' client, because the probe
 * checks Runware, not our code. Every answer is kept whole (status, headers, text), whatever it is.
 */
import * as http from 'http';
import * as https from 'https';
import { parseLossless } from '../nodes/lib/lossless-json';

export interface HttpAnswer {
  /** 0 when no answer came (network error or timeout: see `error`). */
  status: number;
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON (big integers as decimal strings), when it is JSON. */
  json?: unknown;
  /** The raw bytes (only with `keepBytes`). */
  bytes?: Buffer;
  error?: string;
  ms: number;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Keep at most this many bytes of the body (media downloads). */
  maxBytes?: number;
  keepBytes?: boolean;
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function parseJson(text: string): unknown {
  try {
    return parseLossless(text);
  } catch {
    return undefined;
  }
}

export function send(req: HttpRequest): Promise<HttpAnswer> {
  const began = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (answer: Omit<HttpAnswer, 'ms'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...answer, ms: Date.now() - began });
    };
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return done({ status: 0, headers: {}, text: '', error: `invalid URL ${req.url}` });
    }
    const client = url.protocol === 'https:' ? https : http;
    const body = req.body === undefined ? undefined : Buffer.from(req.body);
    const headers: Record<string, string | number> = { ...req.headers };
    if (body) headers['Content-Length'] = body.length;
    const out = client.request(url, { method: req.method, headers, agent: false, timeout: req.timeoutMs });
    out.on('timeout', () => out.destroy(new Error(`no answer within ${req.timeoutMs} ms`)));
    out.on('error', (err) => done({ status: 0, headers: {}, text: '', error: err.message }));
    out.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (req.maxBytes !== undefined && size >= req.maxBytes) return;
        chunks.push(c);
        size += c.length;
        if (req.maxBytes !== undefined && size >= req.maxBytes) res.destroy();
      });
      const finish = () => {
        const bytes = Buffer.concat(chunks);
        const text = req.keepBytes ? '' : bytes.toString('utf8');
        const answer: Omit<HttpAnswer, 'ms'> = { status: res.statusCode ?? 0, headers: flatHeaders(res.headers), text };
        if (req.keepBytes) answer.bytes = req.maxBytes !== undefined ? bytes.subarray(0, req.maxBytes) : bytes;
        else {
          const json = parseJson(text);
          if (json !== undefined) answer.json = json;
        }
        done(answer);
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    out.end(body);
  });
}
