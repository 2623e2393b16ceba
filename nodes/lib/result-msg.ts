/** The msgs an outcome leaves with, the same from ovi poll and ovi webhook. */
import { isPlainObject } from './field-check';
import { JobRecord } from './job-hub';
import { ResultItem } from './runware-client';
import { EXTENSIONS, MIME_TYPES, OutputFormat } from './task-schema';
import type { NodeMessage } from './red-types';

/** Properties of the asking msg that a result msg does not carry (README › Messages). */
const NOT_CARRIED = ['payload', 'image', 'req', 'res', 'error', '_error'];

function formatOf(rec: JobRecord | undefined, item: ResultItem | undefined): OutputFormat {
  const fromRec = rec?.outputFormat;
  if (fromRec === 'MP4' || fromRec === 'WEBM' || fromRec === 'MOV') return fromRec;
  const url = item?.videoURL;
  const ext = typeof url === 'string' ? /\.(mp4|webm|mov)(?:[?#]|$)/i.exec(url)?.[1]?.toUpperCase() : undefined;
  return ext === 'WEBM' || ext === 'MOV' ? ext : 'MP4';
}

/** The base of an outcome msg: the asking msg (a clone) or the submit-time snapshot, minus what is not carried. */
export function outcomeBase(base: NodeMessage): NodeMessage {
  for (const k of NOT_CARRIED) delete base[k];
  return base;
}

/**
 * msg.parts for generation `index` of `count`: a core join node regroups a task's outcomes; parts the
 * asking msg already had (a split upstream, from any realm) nest inside, as Node-RED's split does.
 */
function partsFor(base: NodeMessage, taskUUID: string, index: number, count: number): void {
  if (count <= 1) return;
  const outer = isPlainObject(base.parts) ? base.parts : undefined;
  base.parts = { id: taskUUID, index, count, type: 'array', len: 1, ...(outer ? { parts: outer } : {}) };
}

/**
 * A result: payload is the item as Runware returned it; taskUUID, mimetype, filename,
 * ovi.{index, count, cost}, and parts when the task has several generations.
 */
export function resultMsg(base: NodeMessage, rec: JobRecord | undefined, item: ResultItem, index: number): NodeMessage {
  const format = formatOf(rec, item);
  const count = rec?.numberResults ?? 1;
  const out = outcomeBase(base);
  out.payload = item;
  out.taskUUID = item.taskUUID;
  out.mimetype = MIME_TYPES[format];
  out.filename = (typeof item.videoUUID === 'string' ? item.videoUUID : item.taskUUID + '-' + index) + '.' + EXTENSIONS[format];
  const prev = isPlainObject(out.ovi) ? out.ovi : {};
  out.ovi = { ...prev, index, count, ...(typeof item.cost === 'number' ? { cost: item.cost } : {}) };
  partsFor(out, item.taskUUID, index, count);
  return out;
}

/** A failed generation, for node.error(err, msg) (Node-RED adds msg.error): msg.taskUUID, ovi.{index, count}, parts. */
export function failureMsg(base: NodeMessage, rec: JobRecord, index: number): NodeMessage {
  const out = outcomeBase(base);
  out.taskUUID = rec.taskUUID;
  const prev = isPlainObject(out.ovi) ? out.ovi : {};
  out.ovi = { ...prev, index, count: rec.numberResults, failed: true };
  partsFor(out, rec.taskUUID, index, rec.numberResults);
  return out;
}

export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}
