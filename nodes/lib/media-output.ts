/**
 * Where a result's video goes: left as its URL (default), downloaded into msg.payload as a Buffer, or
 * written to a file (atomic: temp file + rename; directories created; optional age-based cleanup).
 * Downloads have their own timeout, a size cap and retries on transient failures (network, 5xx,
 * 422, as CDNs answer while a fresh object propagates).
 */
import axios from 'axios';
import { promises as fs } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { OviError } from './errors';
import { backoffDelay, sleep } from './runware-client';

export type OutputMode = 'url' | 'buffer' | 'file';

export interface OutputOptions {
  mode: OutputMode;
  filePath: string; // template, see renderPath
  maxBytes: number;
  timeoutMs: number;
  retries: number;
  retentionDays: number; // 0 = keep everything
  baseDir: string; // relative file paths resolve against this (Node-RED's userDir)
}

export const DEFAULT_FILE_PATH = 'ovi/{{taskUUID}}-{{index}}.{{ext}}';
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;
export const DEFAULT_DOWNLOAD_TIMEOUT_S = 120;

/** The output settings' defaults, for the editor (scripts/build.js puts them in ovi-fields.js). */
export const OUTPUT_DEFAULTS = { filePath: DEFAULT_FILE_PATH, maxBytes: DEFAULT_MAX_BYTES, downloadTimeout: DEFAULT_DOWNLOAD_TIMEOUT_S, retentionDays: 0 };

export function outputMode(value: unknown): OutputMode {
  return value === 'buffer' || value === 'file' ? value : 'url';
}

/** Placeholders become safe file-name parts: no separators, no "..", nothing outside [A-Za-z0-9._-]. */
export function renderPath(template: string, vars: Record<string, string | number | undefined>): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name: string) => {
    const v = vars[name];
    const text = v === undefined || v === null ? '' : String(v);
    return (
      text
        .replace(/[^A-Za-z0-9._-]/g, '_')
        .replace(/\.{2,}/g, '_')
        .slice(0, 120) || '_'
    );
  });
}

export async function download(url: string, opts: Pick<OutputOptions, 'maxBytes' | 'timeoutMs' | 'retries'>, signal?: AbortSignal): Promise<Buffer> {
  if (!/^https?:\/\//i.test(url)) throw new OviError({ code: 'download', message: 'the result has no http(s) videoURL to download', retryable: false });
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await axios.get<ArrayBuffer>(url, {
        responseType: 'arraybuffer',
        timeout: opts.timeoutMs,
        maxContentLength: opts.maxBytes,
        maxRedirects: 5,
        validateStatus: () => true,
        signal,
        proxy: false,
      });
      if (res.status >= 200 && res.status < 300) return Buffer.from(res.data);
      const transient = res.status >= 500 || res.status === 422 || res.status === 429 || res.status === 408;
      throw new OviError({ code: 'download', httpStatus: res.status, message: 'downloading the video failed: HTTP ' + res.status, retryable: transient });
    } catch (e) {
      const err = asDownloadError(e, opts.maxBytes);
      if (!err.retryable || attempt >= opts.retries || signal?.aborted) throw err;
      await sleep(backoffDelay(attempt, { retries: opts.retries, baseMs: 300, maxMs: 5000 }), signal);
    }
  }
}

function asDownloadError(e: unknown, maxBytes: number): OviError {
  if (e instanceof OviError) return e;
  const code = (e as { code?: string }).code;
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'ERR_BAD_RESPONSE' && /maxContentLength/i.test(message)) {
    return new OviError({
      code: 'download',
      rawCode: 'tooLarge',
      message: 'the video is larger than the ' + maxBytes + ' bytes allowed (raise "max size" or use the URL)',
      retryable: false,
    });
  }
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT')
    return new OviError({ code: 'download', rawCode: code, message: 'downloading the video timed out', retryable: true });
  return new OviError({ code: 'download', rawCode: code, message: 'downloading the video failed: ' + message, retryable: true });
}

export async function writeAtomic(file: string, data: Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = file + '.' + randomBytes(6).toString('hex') + '.part';
  try {
    await fs.writeFile(tmp, data);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw new OviError({ code: 'download', message: 'writing ' + file + ' failed: ' + (e instanceof Error ? e.message : String(e)), retryable: false });
  }
}

/** Delete videos (by extension) older than `days` in one folder: the folder this node writes to. */
export async function cleanup(dir: string, days: number, now = Date.now()): Promise<number> {
  if (!(days > 0)) return 0;
  let removed = 0;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!/\.(mp4|webm|mov)$/i.test(name)) continue;
    const file = path.join(dir, name);
    try {
      const st = await fs.stat(file);
      if (st.isFile() && now - st.mtimeMs > days * 86_400_000) {
        await fs.rm(file, { force: true });
        removed++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return removed;
}
