/**
 * Downloading a result's video, safely. The URL comes from Runware — or from whoever holds a
 * webhook token and forges a result — so it is untrusted:
 *  - a wall-clock deadline for the whole transfer, retries included (a server that trickles a byte
 *    now and then cannot hold a download, or its buffer, forever);
 *  - the size cap, checked on Content-Length and while reading;
 *  - redirects only within the same host, never from https to http;
 *  - the answer must be video/* or application/octet-stream;
 *  - loopback, link-local and private addresses are refused (checked on every address the name
 *    resolves to, at connect time, so DNS cannot swap them in) unless the account's own endpoint is
 *    such an address (the simulator case).
 * Every refusal is a `download` error that says why.
 */
import * as dns from 'dns';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import { OviError } from './errors';
import { backoffDelay, sleep } from './runware-client';

export interface DownloadPolicy {
  maxBytes: number;
  /** The whole download, retries included, must finish within this. */
  timeoutMs: number;
  retries: number;
  /** Loopback/private/link-local addresses allowed (only when the account's endpoint is one). */
  allowPrivate: boolean;
}

const MAX_REDIRECTS = 3;

function refuse(message: string, rawCode: string, retryable = false, httpStatus?: number): OviError {
  return new OviError({ code: 'download', rawCode, message, retryable, httpStatus });
}

function v4Private(ip: string): boolean {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) return true;
  const [a, b] = p;
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && p[2] === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224 // multicast, reserved, broadcast
  );
}

/** Not a public internet address: loopback, private, link-local, unspecified, multicast, ... */
export function isPrivateAddress(ip: string): boolean {
  const addr = ip.replace(/^\[|\]$/g, '').toLowerCase();
  const kind = net.isIP(addr);
  if (kind === 4) return v4Private(addr);
  if (kind !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (mapped) return v4Private(mapped[1]);
  if (addr === '::' || addr === '::1') return true;
  const first = parseInt(addr.split(':')[0] || '0', 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}

/** Is this URL's host (a name or an address) local or private, as written? Names are judged by what they resolve to. */
export function isPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (net.isIP(h)) return isPrivateAddress(h);
  return h === 'localhost' || h.endsWith('.localhost');
}

/** dns.lookup that refuses private addresses: used as the socket's lookup, so the checked address is the one connected to. */
function guardedLookup(allowPrivate: boolean): net.LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as dns.LookupAddress[];
      if (!allowPrivate && list.some((a) => isPrivateAddress(a.address))) {
        const e = Object.assign(new Error(hostname + ' resolves to a private or local address'), { code: 'EPRIVATE' });
        return callback(e, '', 0);
      }
      if ((options as dns.LookupOptions).all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}

function acceptable(contentType: string | undefined): boolean {
  const t = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return t.startsWith('video/') || t === 'application/octet-stream' || t === 'binary/octet-stream';
}

export async function safeDownload(raw: string, policy: DownloadPolicy, signal?: AbortSignal): Promise<Buffer> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse('the result has no valid videoURL to download', 'invalidUrl');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('the result videoURL is not http(s): not downloaded', 'invalidUrl');
  if (url.username || url.password) throw refuse('the result videoURL carries credentials: not downloaded', 'invalidUrl');
  const deadlineAt = Date.now() + policy.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchFollowing(url, policy, deadlineAt, signal);
    } catch (e) {
      const err = e instanceof OviError ? e : refuse('downloading the video failed: ' + String(e), 'unknown', true);
      const left = deadlineAt - Date.now();
      if (!err.retryable || attempt >= policy.retries || signal?.aborted || left <= 0) throw err;
      await sleep(Math.min(left, backoffDelay(attempt, { retries: policy.retries, baseMs: 300, maxMs: 5000 })), signal).catch(() => undefined);
      if (signal?.aborted) throw err;
    }
  }
}

async function fetchFollowing(start: URL, policy: DownloadPolicy, deadlineAt: number, signal?: AbortSignal): Promise<Buffer> {
  let url = start;
  for (let hop = 0; ; hop++) {
    const answer = await fetchOnce(url, policy, deadlineAt, signal);
    if (answer.kind === 'body') return answer.body;
    if (hop >= MAX_REDIRECTS) throw refuse('the video URL redirects too often', 'tooManyRedirects');
    let next: URL;
    try {
      next = new URL(answer.location, url);
    } catch {
      throw refuse('the video URL redirects to an invalid address', 'badRedirect');
    }
    if (next.hostname.toLowerCase() !== url.hostname.toLowerCase())
      throw refuse('the video URL redirects to another host (' + next.hostname + '): refused', 'crossHostRedirect');
    if (url.protocol === 'https:' && next.protocol !== 'https:')
      throw refuse('the video URL redirects from https to ' + next.protocol + ': refused', 'insecureRedirect');
    url = next;
  }
}

type Answer = { kind: 'body'; body: Buffer } | { kind: 'redirect'; location: string };

function fetchOnce(url: URL, policy: DownloadPolicy, deadlineAt: number, signal?: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (!policy.allowPrivate && net.isIP(host) && isPrivateAddress(host)) {
      return reject(refuse('the video URL points at a private or local address (' + host + '): refused', 'privateAddress'));
    }
    const left = deadlineAt - Date.now();
    if (left <= 0) return reject(refuse('downloading the video took longer than the download timeout', 'deadline'));
    const lib = url.protocol === 'https:' ? https : http;
    let settled = false;
    const fail = (err: OviError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    const req = lib.request(url, {
      method: 'GET',
      agent: false,
      lookup: guardedLookup(policy.allowPrivate),
      headers: { Accept: 'video/*, application/octet-stream', 'User-Agent': 'node-red-contrib-runware-ovi' },
    });
    const timer = setTimeout(
      () => fail(refuse('downloading the video took longer than the download timeout (' + Math.round(policy.timeoutMs / 1000) + ' s)', 'deadline')),
      left,
    );
    const onAbort = () => fail(new OviError({ code: 'cancelled', message: 'the download was cancelled (node closed or redeployed)', retryable: false }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPRIVATE') fail(refuse("the video URL's host " + host + ' resolves to a private or local address: refused', 'privateAddress'));
      else fail(refuse('downloading the video failed: ' + e.message, e.code ?? 'network', true));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        req.destroy();
        return resolve({ kind: 'redirect', location: res.headers.location });
      }
      if (status < 200 || status >= 300) {
        res.resume();
        const transient = status >= 500 || status === 408 || status === 422 || status === 429;
        return fail(refuse('downloading the video failed: HTTP ' + status, 'http' + status, transient, status));
      }
      if (!acceptable(res.headers['content-type'])) {
        res.resume();
        return fail(refuse('the video URL answered ' + (res.headers['content-type'] || 'no Content-Type') + ', not a video: refused', 'notVideo'));
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > policy.maxBytes) return fail(tooLarge(policy.maxBytes));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > policy.maxBytes) return fail(tooLarge(policy.maxBytes));
        chunks.push(c);
      });
      res.on('end', () => {
        if (settled) return;
        if (!res.complete) return fail(refuse('the video download was cut short', 'truncated', true));
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ kind: 'body', body: Buffer.concat(chunks, size) });
      });
      res.on('error', (e) => fail(refuse('downloading the video failed: ' + e.message, 'network', true)));
    });
    req.end();
  });
}

function tooLarge(maxBytes: number): OviError {
  return refuse('the video is larger than the ' + sizeText(maxBytes) + ' allowed (raise "largest video" or keep the URL)', 'tooLarge');
}

/** A size as people read it: bytes, KiB or MiB. */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return bytes + ' bytes';
  if (bytes < 1048576) return Math.round(bytes / 102.4) / 10 + ' KiB';
  return Math.round(bytes / 104857.6) / 10 + ' MiB';
}

/** At most `limit` downloads at once per account: a flood of results cannot fill memory with buffers. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
