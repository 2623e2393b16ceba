/**
 * Where a result's video goes: left as its URL (default), downloaded into msg.payload as a Buffer, or
 * written to a file (atomic: temp file + rename; directories created; optional age-based cleanup).
 * The download itself is safe-download.ts.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { OviError } from './errors';
import { NODE_DEFAULTS } from './node-defaults';

export type OutputMode = 'url' | 'buffer' | 'file';

export interface OutputOptions {
  mode: OutputMode;
  filePath: string; // template, see renderPath
  maxBytes: number;
  timeoutMs: number;
  retries: number;
  retentionDays: number; // 0 = keep everything
  baseDir: string; // relative file paths resolve against this (Node-RED's userDir)
  acceptForeign: boolean; // download results of tasks this account never submitted
}

const OUT = NODE_DEFAULTS['ovi-poll'];
export const DEFAULT_FILE_PATH = OUT.filePath as string;
export const DEFAULT_MAX_BYTES = OUT.maxBytes as number;
export const DEFAULT_DOWNLOAD_TIMEOUT_S = OUT.downloadTimeout as number;

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
