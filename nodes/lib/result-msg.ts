/** The msg a result leaves with, the same from ovi poll and ovi webhook. */
import { JobRecord } from './job-hub';
import { ResultItem } from './runware-client';
import { EXTENSIONS, MIME_TYPES, OutputFormat } from './task-schema';
import type { NodeMessage } from './red-types';

function formatOf(rec: JobRecord | undefined, item: ResultItem): OutputFormat {
  const fromRec = rec?.outputFormat;
  if (fromRec === 'MP4' || fromRec === 'WEBM' || fromRec === 'MOV') return fromRec;
  const ext = typeof item.videoURL === 'string' ? /\.(mp4|webm|mov)(?:[?#]|$)/i.exec(item.videoURL)?.[1]?.toUpperCase() : undefined;
  return ext === 'WEBM' || ext === 'MOV' ? ext : 'MP4';
}

/**
 * base: the msg that asked (a clone) or the submit-time snapshot. Sets payload (the item as Runware
 * returned it), taskUUID, mimetype, filename, ovi.{index,count,cost} and, for several results, parts
 * so a core join node regroups them.
 */
export function resultMsg(base: NodeMessage, rec: JobRecord | undefined, item: ResultItem, index: number): NodeMessage {
  const format = formatOf(rec, item);
  const count = rec?.numberResults ?? 1;
  const out: NodeMessage = base;
  out.payload = item;
  out.taskUUID = item.taskUUID;
  out.mimetype = MIME_TYPES[format];
  out.filename = (typeof item.videoUUID === 'string' ? item.videoUUID : item.taskUUID + '-' + index) + '.' + EXTENSIONS[format];
  const prev = out.ovi && typeof out.ovi === 'object' ? (out.ovi as Record<string, unknown>) : {};
  out.ovi = { ...prev, index, count, ...(typeof item.cost === 'number' ? { cost: item.cost } : {}) };
  if (count > 1) out.parts = { id: item.taskUUID, index, count, type: 'array', len: 1 };
  return out;
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}
