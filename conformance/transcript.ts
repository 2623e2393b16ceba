/**
 * The transcript: every request the probe sends and every answer, and every webhook or upload it
 * receives, in order. Secrets (the API key, webhook and upload tokens) are replaced by *** when the
 * transcript is written out, and long strings (image data URIs) are shortened, so the report can be
 * attached to a public issue as is.
 */

export interface TranscriptEntry {
  n: number;
  /** ISO time. */
  at: string;
  /** The probe check that made (or received) this exchange. */
  check: string;
  kind: 'api' | 'media' | 'webhook' | 'upload' | 'note';
  request?: { method: string; url: string; headers?: Record<string, string>; body?: unknown };
  response?: { status: number; headers?: Record<string, string>; body?: unknown; ms?: number };
  error?: string;
  note?: string;
}

const LONG = 300;

/** A copy with long strings cut (data URIs stay recognisable) and at most 200 array items. */
export function shorten(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > LONG ? `${value.slice(0, 60)}… (${value.length} chars)` : value;
  if (typeof value !== 'object' || value === null || depth > 8) return value;
  if (Array.isArray(value)) return value.slice(0, 200).map((v) => shorten(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = shorten(v, depth + 1);
  return out;
}

export class Transcript {
  readonly entries: TranscriptEntry[] = [];
  private readonly secrets = new Set<string>();

  /** Remember a value that must never appear in the output. */
  secret(value: string | undefined): void {
    if (value && value.length >= 4) this.secrets.add(value);
  }

  add(entry: Omit<TranscriptEntry, 'n' | 'at'>): TranscriptEntry {
    const full: TranscriptEntry = { n: this.entries.length + 1, at: new Date().toISOString(), ...entry };
    if (full.request?.body !== undefined) full.request.body = shorten(full.request.body);
    if (full.response?.body !== undefined) full.response.body = shorten(full.response.body);
    this.entries.push(full);
    return full;
  }

  /** Replace every secret in a text by ***; also any Bearer credential and token-like query values. */
  redact(text: string): string {
    let out = text;
    // Longest first, so a secret containing another one is replaced whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
    // Belt and braces for credentials the probe did not create (e.g. a redirect's signed URL).
    return out
      .replace(/(Bearer\s+)(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}/g, '$1***')
      .replace(/([?&](?:token|sig|signature|key|apiKey|X-Amz-Signature)=)(?!\*\*\*)[A-Za-z0-9._~%+/=-]{8,}/gi, '$1***');
  }
}
