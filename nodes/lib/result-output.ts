/**
 * Applies a node's output mode to a result msg (built by result-msg.ts): nothing for URL mode; the
 * bytes in msg.payload for Buffer mode (the result item moves to msg.ovi.result); a file for file
 * mode (msg.filename becomes its absolute path). Sets msg.ovi.bytes whenever the size is known.
 * Nothing is downloaded for a task the account never submitted, unless the node accepts foreign
 * results: a forged webhook must not make Node-RED fetch what its sender chose.
 */
import * as path from 'path';
import type { Account } from './account';
import { OviError } from './errors';
import { DEFAULT_DOWNLOAD_TIMEOUT_S, DEFAULT_FILE_PATH, DEFAULT_MAX_BYTES, OutputOptions, cleanup, outputMode, renderPath, writeAtomic } from './media-output';
import { NodeType, setting } from './node-defaults';
import { numberSetting } from './config-ref';
import { Limiter, isPrivateHost, safeDownload } from './safe-download';
import { ResultItem } from './runware-client';
import type { NodeMessage } from './red-types';

/** Downloads at once for a node without an account (the account has its own limiter). */
const orphanLimiter = new Limiter(2);

export interface OutputGuard {
  account?: Account;
  acceptForeign: boolean;
  /** Told of every file written (the editor's sidebar serves only these). */
  written?: (file: string, item: ResultItem) => void;
}

export async function applyOutput(msg: NodeMessage, item: ResultItem, opts: OutputOptions, guard: OutputGuard, signal?: AbortSignal): Promise<void> {
  if (opts.mode === 'url') return;
  if (!guard.acceptForeign && !guard.account?.hub.knows(item.taskUUID)) {
    throw new OviError({
      code: 'download',
      rawCode: 'foreignResult',
      taskUUID: item.taskUUID,
      retryable: false,
      message: 'not downloaded: task ' + item.taskUUID + ' was not submitted by this account (set "accept foreign results" on this node to allow it)',
    });
  }
  const endpoint = guard.account?.client.endpoint;
  const allowPrivate = endpoint !== undefined && isPrivateHost(hostOf(endpoint));
  const limiter = guard.account?.downloads ?? orphanLimiter;
  const bytes = await limiter.run(() =>
    safeDownload(String(item.videoURL ?? ''), { maxBytes: opts.maxBytes, timeoutMs: opts.timeoutMs, retries: opts.retries, allowPrivate }, signal),
  );
  const ovi = (msg.ovi && typeof msg.ovi === 'object' ? msg.ovi : {}) as Record<string, unknown>;
  msg.ovi = { ...ovi, bytes: bytes.length };
  if (opts.mode === 'buffer') {
    (msg.ovi as Record<string, unknown>).result = item;
    msg.payload = bytes;
    return;
  }
  const ext =
    String(msg.filename ?? '')
      .split('.')
      .pop() || 'mp4';
  const index = typeof ovi.index === 'number' ? ovi.index : 0;
  const rel = renderPath(opts.filePath, {
    taskUUID: item.taskUUID,
    videoUUID: typeof item.videoUUID === 'string' ? item.videoUUID : undefined,
    index,
    ext,
    date: new Date().toISOString().slice(0, 10),
    topic: typeof msg.topic === 'string' ? msg.topic : undefined,
  });
  const file = path.resolve(opts.baseDir, rel);
  await writeAtomic(file, bytes);
  msg.filename = file;
  guard.written?.(file, item);
  if (opts.retentionDays > 0) void cleanup(path.dirname(file), opts.retentionDays);
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

/** A node's output settings (ovi poll, ovi webhook), from its properties or their defaults. */
export function outputOptionsFrom(type: NodeType, def: Record<string, unknown>, baseDir: string): OutputOptions {
  const get = (key: string) => setting(type, def, key);
  const filePath = get('filePath');
  return {
    mode: outputMode(get('output')),
    filePath: typeof filePath === 'string' && filePath.trim() ? filePath.trim() : DEFAULT_FILE_PATH,
    maxBytes: numberSetting(get('maxBytes'), DEFAULT_MAX_BYTES, 1),
    timeoutMs: numberSetting(get('downloadTimeout'), DEFAULT_DOWNLOAD_TIMEOUT_S, 1) * 1000,
    retries: 3,
    retentionDays: numberSetting(get('retentionDays'), 0, 0),
    baseDir,
    acceptForeign: get('acceptForeign') === true || get('acceptForeign') === 'true',
  };
}
