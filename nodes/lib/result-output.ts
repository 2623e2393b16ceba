/**
 * Applies a node's output mode to a result msg (built by result-msg.ts): nothing for URL mode; the
 * bytes in msg.payload for Buffer mode (the result item moves to msg.ovi.result); a file for file
 * mode (msg.filename becomes its absolute path). Sets msg.ovi.bytes whenever the size is known.
 */
import * as path from 'path';
import {
  DEFAULT_DOWNLOAD_TIMEOUT_S,
  DEFAULT_FILE_PATH,
  DEFAULT_MAX_BYTES,
  OutputOptions,
  cleanup,
  download,
  outputMode,
  renderPath,
  writeAtomic,
} from './media-output';
import { numberSetting } from './config-ref';
import { ResultItem } from './runware-client';
import type { NodeMessage } from './red-types';

export async function applyOutput(msg: NodeMessage, item: ResultItem, opts: OutputOptions, signal?: AbortSignal): Promise<void> {
  if (opts.mode === 'url') return;
  const bytes = await download(String(item.videoURL ?? ''), opts, signal);
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
  if (opts.retentionDays > 0) void cleanup(path.dirname(file), opts.retentionDays);
}

/** A node's output settings (ovi poll, ovi webhook), from its properties. */
export function outputOptionsFrom(def: Record<string, unknown>, baseDir: string): OutputOptions {
  return {
    mode: outputMode(def.output),
    filePath: typeof def.filePath === 'string' && def.filePath.trim() ? def.filePath.trim() : DEFAULT_FILE_PATH,
    maxBytes: numberSetting(def.maxBytes, DEFAULT_MAX_BYTES, 1),
    timeoutMs: numberSetting(def.downloadTimeout, DEFAULT_DOWNLOAD_TIMEOUT_S, 1) * 1000,
    retries: 3,
    retentionDays: numberSetting(def.retentionDays, 0, 0),
    baseDir,
  };
}
