/**
 * What the probe saw, as plain data: the judges (assumptions.ts) read only this, so a verdict can be
 * re-derived from a saved report and the judging can be tested without any network.
 */
import type { HttpAnswer } from './http';

export type Target = 'runware' | 'simulator' | 'simulator-alt';

/** One request and its answer. */
export interface Exchange {
  /** The task(s) sent, when the body was a task array. */
  sent?: unknown[];
  answer: HttpAnswer;
}

export interface Submission extends Exchange {
  taskUUID: string;
  numberResults: number;
  /** 2xx with this taskUUID in data: a job runs (and may cost money). */
  accepted: boolean;
  webhook: boolean;
  upload: boolean;
}

export interface PollAnswer {
  /** ms since the task's submit. */
  after: number;
  status: number;
  body: unknown;
}

export interface PollTrace {
  taskUUID: string;
  numberResults: number;
  /** Which check submitted it (C03, C04, C15...). */
  check: string;
  answers: PollAnswer[];
  done: boolean;
  /** A last single poll, made at the end of the run. */
  later?: PollAnswer;
}

export interface Hit {
  kind: 'webhook' | 'upload';
  method: string;
  /** The path and query as received (secrets are redacted when written out). */
  url: string;
  headers: Record<string, string>;
  /** Text for webhooks, undefined for uploads. */
  text?: string;
  json?: unknown;
  size: number;
  /** The first bytes, hex (uploads). */
  head?: string;
  /** What the receiver answered. */
  answered: number;
  /** The query carried the token the probe put there. */
  tokenOk: boolean;
  at: number;
}

export interface Observations {
  target: Target;
  endpoint: string;
  auth?: Exchange;
  badJson?: Exchange;
  text?: Submission;
  image?: Submission;
  invalid?: Submission;
  gif?: Submission;
  duplicate?: Submission;
  forced: Submission[];
  unknownPoll?: Exchange & { taskUUID: string };
  batch?: Exchange & { known: string; unknown: string };
  rateLimit?: Exchange;
  media?: Exchange & { url: string };
  polls: PollTrace[];
  hits: Hit[];
  /** The webhook body the receiver answered 500 to, to see it again. */
  refusedBody?: string;
  /** How long the probe waited for webhooks after the polls ended (ms). */
  webhookWaitMs?: number;
  /** Every API answer, for checks across the run (codes, 429s). */
  answers: HttpAnswer[];
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const arrayOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const recordsOf = (v: unknown): Array<Record<string, unknown>> => arrayOf(v).filter(isRecord);

const SUCCESS = ['success', 'completed', 'succeeded', 'done'];
const FAILURE = ['error', 'failed', 'failure'];

export function dataOf(body: unknown): Array<Record<string, unknown>> {
  return isRecord(body) ? recordsOf(body.data) : [];
}

export function errorsOf(body: unknown): Array<Record<string, unknown>> {
  if (!isRecord(body)) return [];
  const list = recordsOf(body.errors);
  if (isRecord(body.error)) list.push({ ...body.error, taskUUID: body.error.taskUUID ?? body.taskUUID });
  return list;
}

export function statusOf(item: Record<string, unknown>): 'success' | 'failure' | 'pending' {
  const s = typeof item.status === 'string' ? item.status.toLowerCase() : undefined;
  if (s ? SUCCESS.includes(s) : typeof item.videoUUID === 'string') return 'success';
  if (s && FAILURE.includes(s)) return 'failure';
  return 'pending';
}

export const NOT_FOUND = /notfound|expired|cancelled/i;

/** A getResponse answer about one task, read in either failure shape. */
export interface TaskState {
  successes: Array<Record<string, unknown>>;
  /** Failed generations: errors[] entries (not "not found") or data items with an error status. */
  failures: Array<{ shape: 'errors' | 'item'; entry: Record<string, unknown> }>;
  pending: Array<Record<string, unknown>>;
  notFound: boolean;
}

export function stateOf(body: unknown, taskUUID: string): TaskState {
  const state: TaskState = { successes: [], failures: [], pending: [], notFound: false };
  for (const item of dataOf(body)) {
    if (item.taskUUID !== taskUUID) continue;
    const s = statusOf(item);
    if (s === 'success') state.successes.push(item);
    else if (s === 'failure') state.failures.push({ shape: 'item', entry: item });
    else state.pending.push(item);
  }
  for (const e of errorsOf(body)) {
    if (e.taskUUID !== undefined && e.taskUUID !== taskUUID) continue;
    if (typeof e.code === 'string' && NOT_FOUND.test(e.code)) state.notFound = true;
    else if (e.taskUUID === taskUUID) state.failures.push({ shape: 'errors', entry: e });
  }
  return state;
}

/** The code and message of a failure, wherever they are. */
export function failureCode(f: { entry: Record<string, unknown> }): string | undefined {
  const nested = isRecord(f.entry.error) ? f.entry.error : undefined;
  const code = nested?.code ?? f.entry.code;
  return typeof code === 'string' ? code : undefined;
}

/** The items a webhook body carries, bare or wrapped, with the task they are about. */
export function webhookItems(json: unknown): Array<{ form: 'data' | 'errors' | 'error' | 'bare'; item: Record<string, unknown> }> {
  if (!isRecord(json)) return [];
  if (Array.isArray(json.data)) return recordsOf(json.data).map((item) => ({ form: 'data' as const, item }));
  if (Array.isArray(json.errors)) return recordsOf(json.errors).map((item) => ({ form: 'errors' as const, item }));
  if (isRecord(json.error)) return [{ form: 'error', item: { ...json.error, taskUUID: json.error.taskUUID ?? json.taskUUID } }];
  return [{ form: 'bare', item: json }];
}

/** Every error code in an answer body. */
export function codesOf(body: unknown): string[] {
  const codes = errorsOf(body)
    .map((e) => e.code)
    .filter((c): c is string => typeof c === 'string');
  for (const item of dataOf(body)) if (isRecord(item.error) && typeof item.error.code === 'string') codes.push(item.error.code);
  return codes;
}

/** What tells one webhook delivery from another for a task: a success's videoUUID, else the body text. */
export function deliveryKeys(hits: readonly Hit[], taskUUID: string): Set<string> {
  const keys = new Set<string>();
  for (const h of hits) {
    if (h.kind !== 'webhook' || !h.tokenOk) continue;
    for (const { item } of webhookItems(h.json)) {
      if (item.taskUUID === taskUUID) keys.add(statusOf(item) === 'success' ? `video:${String(item.videoUUID)}` : `body:${h.text ?? ''}`);
    }
  }
  return keys;
}
