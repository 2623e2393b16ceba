/**
 * A saved job is untrusted input: a crash, a full disk or a bad sector may have damaged it, and an
 * older or newer version may have written it. Every record read back from a store passes through
 * validateJob field by field before anything acts on it, so a bad one is skipped with a reason
 * instead of throwing inside resume (which would stop Node-RED at every start).
 */
import { isPlainObject } from './field-check';
import type { PersistedJob } from './job-store';
import { parseLossless } from './lossless-json';

export type JobCheck = { ok: true; job: PersistedJob } | { ok: false; reason: string; taskUUID?: string };

/** Longer than any taskUUID or node id we write; keeps names usable in file names and log lines. */
const MAX_ID_CHARS = 200;
/** A cost total above this is damage, not spending. */
export const MAX_COST_TOTAL = 1e9;

const STATES = new Set(['queued', 'submitting', 'running']);

const isPlainRecord = isPlainObject;

/** What a value is, for a reason text (never the value itself: it may be huge). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return Number.isFinite(v) ? 'the number ' + v : String(v);
  if (typeof v === 'string') return v.length > 40 ? 'a string of ' + v.length + ' characters' : 'the string ' + JSON.stringify(v);
  return 'a ' + typeof v;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_CHARS;
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The saved task must be the one this record is about, and resendable (account.ts turns a digit seed into a BigInt). */
function checkWire(wire: string, taskUUID: string): string | undefined {
  let task: unknown;
  try {
    task = parseLossless(wire);
  } catch (e) {
    return 'wire (the saved task) does not parse as JSON: ' + (e instanceof Error ? e.message : String(e));
  }
  if (!isPlainRecord(task)) return 'wire (the saved task) is ' + kindOf(task) + ', not a JSON object';
  if (task.taskUUID !== taskUUID) return 'wire (the saved task) is for task ' + kindOf(task.taskUUID) + ', not for this record';
  const seed = task.seed;
  if (seed !== undefined && !(typeof seed === 'number' && Number.isSafeInteger(seed)) && !(typeof seed === 'string' && /^\d{1,20}$/.test(seed)))
    return 'the seed of the saved task is ' + kindOf(seed) + ', not an integer';
  return undefined;
}

/**
 * Check one saved job. Unknown extra fields are dropped silently (a newer version may add some); the
 * taskUUID comes back with a failure whenever it can be read, so the caller can fail that task.
 */
export function validateJob(value: unknown): JobCheck {
  if (!isPlainRecord(value)) return { ok: false, reason: 'the record is ' + kindOf(value) + ', not a job object' };
  const v = value;
  const taskUUID = isId(v.taskUUID) ? v.taskUUID : undefined;
  const bad = (reason: string): JobCheck => ({ ok: false, reason, ...(taskUUID !== undefined ? { taskUUID } : {}) });
  if (taskUUID === undefined) return bad('taskUUID is ' + kindOf(v.taskUUID) + ', not a task id');
  const n = v.numberResults;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 4) return bad('numberResults is ' + kindOf(n) + ', not an integer from 1 to 4');
  if (typeof v.outputFormat !== 'string') return bad('outputFormat is ' + kindOf(v.outputFormat) + ', not a string');
  if (v.via !== 'poll' && v.via !== 'webhook' && v.via !== 'custom') return bad('via is ' + kindOf(v.via) + ', not "poll", "webhook" or "custom"');
  if (!isPlainRecord(v.msg)) return bad('msg is ' + kindOf(v.msg) + ', not a plain object');
  if (!isFiniteNumber(v.createdAt)) return bad('createdAt is ' + kindOf(v.createdAt) + ', not a finite number');
  if (!isFiniteNumber(v.deadline)) return bad('deadline is ' + kindOf(v.deadline) + ', not a finite number');
  if (!Array.isArray(v.delivered) || !v.delivered.every((d) => typeof d === 'string'))
    return bad('delivered is ' + kindOf(v.delivered) + ', not a list of strings');
  const job: PersistedJob = {
    taskUUID,
    numberResults: n,
    outputFormat: v.outputFormat,
    via: v.via,
    msg: v.msg,
    createdAt: v.createdAt,
    deadline: v.deadline,
    delivered: v.delivered as string[],
    failed: [],
  };
  // Since 0.2.0: one key per failed generation (absent in older records: none failed yet).
  if (v.failed !== undefined) {
    if (!Array.isArray(v.failed) || !v.failed.every((d) => typeof d === 'string') || v.failed.length > 4)
      return bad('failed is ' + kindOf(v.failed) + ', not a list of at most 4 strings');
    job.failed = v.failed as string[];
  }
  for (const key of ['claimed', 'acked', 'hasImage'] as const) {
    const b = v[key];
    if (b === undefined) continue;
    if (typeof b !== 'boolean') return bad(key + ' is ' + kindOf(b) + ', not a boolean');
    job[key] = b;
  }
  if (v.steps !== undefined) {
    if (typeof v.steps !== 'number' || !Number.isInteger(v.steps) || v.steps < 1 || v.steps > 1000)
      return bad('steps is ' + kindOf(v.steps) + ', not a step count');
    job.steps = v.steps;
  }
  if (v.reserved !== undefined) {
    if (!isFiniteNumber(v.reserved) || v.reserved < 0 || v.reserved > MAX_COST_TOTAL)
      return bad('reserved is ' + kindOf(v.reserved) + ', not an amount of USD');
    job.reserved = v.reserved;
  }
  for (const key of ['ownerId', 'submitterId'] as const) {
    const id = v[key];
    if (id === undefined) continue;
    if (!isId(id)) return bad(key + ' is ' + kindOf(id) + ', not a node id');
    job[key] = id;
  }
  if (v.pollFrom !== undefined) {
    if (!isFiniteNumber(v.pollFrom)) return bad('pollFrom is ' + kindOf(v.pollFrom) + ', not a finite number');
    job.pollFrom = v.pollFrom;
  }
  if (v.state !== undefined) {
    if (typeof v.state !== 'string' || !STATES.has(v.state)) return bad('state is ' + kindOf(v.state) + ', not queued, submitting or running');
    job.state = v.state as PersistedJob['state'];
  }
  if (v.wire !== undefined) {
    if (typeof v.wire !== 'string') return bad('wire (the saved task) is ' + kindOf(v.wire) + ', not a string');
    const wrong = checkWire(v.wire, taskUUID);
    if (wrong) return bad(wrong);
    job.wire = v.wire;
  }
  if (v.resumed !== undefined) {
    if (typeof v.resumed !== 'boolean') return bad('resumed is ' + kindOf(v.resumed) + ', not a boolean');
    job.resumed = v.resumed;
  }
  return { ok: true, job };
}

/** The account's cost total as saved: a reason when it cannot be the total spent. */
export function costProblem(total: unknown): string | undefined {
  if (typeof total !== 'number' || !Number.isFinite(total)) return 'the cost total is ' + kindOf(total) + ', not a finite number';
  if (total < 0) return 'the cost total is negative (' + total + ')';
  if (total >= MAX_COST_TOTAL) return 'the cost total ' + total + ' is beyond any plausible spending';
  return undefined;
}
