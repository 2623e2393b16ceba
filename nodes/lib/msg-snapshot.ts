/**
 * The submitting msg's own properties, kept with the job so results that arrive later (a webhook,
 * a poll after a redeploy) carry msg.topic and the user's fields. JSON-safe on purpose: it may be
 * persisted. Left out: the payload (replaced by the result), the image (large), HTTP req/res objects.
 */
import type { NodeMessage } from './red-types';

const LEFT_OUT = new Set(['_msgid', 'payload', 'image', 'req', 'res', 'error', '_error', 'ovi']);
const MAX_SNAPSHOT_CHARS = 256 * 1024;

export function snapshotMsg(msg: NodeMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let size = 0;
  for (const key of Object.keys(msg)) {
    if (LEFT_OUT.has(key) || key === '__proto__') continue;
    try {
      const text = JSON.stringify(msg[key]);
      if (text === undefined) continue;
      size += text.length;
      if (size > MAX_SNAPSHOT_CHARS) break;
      out[key] = JSON.parse(text);
    } catch {
      // not JSON-safe (a socket, a cycle): not something a later result msg can carry
    }
  }
  return out;
}

export function isLocalUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1' || host === '0.0.0.0';
  } catch {
    return false;
  }
}

export function joinUrl(base: string, ...parts: string[]): string {
  let out = base.replace(/\/+$/, '');
  for (const p of parts) {
    const seg = p.replace(/^\/+|\/+$/g, '');
    if (seg) out += '/' + seg;
  }
  return out;
}

/** The webhook token in a webhookURL (?token=...) replaced, e.g. by "***" for msgs or a placeholder for the job store. */
export function replaceToken(url: string, by: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, (_m, key: string) => key + by);
}
