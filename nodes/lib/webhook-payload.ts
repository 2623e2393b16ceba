/**
 * What Runware POSTs to a webhook, validated before anything is cloned or emitted. The only real
 * receiver on record parses {data:[item]} or {errors:[...]}; a bare item is accepted too, as are
 * failed generations as data items (status "error" + nested error). An error without a taskUUID
 * cannot be matched to a task: it is returned apart (logged, answered 2xx, harms nothing).
 * Bounds: nesting depth and counts, so a hostile body cannot make a later deep clone overflow.
 */
import { z } from 'zod';
import { isPlainObject } from './field-check';
import { Envelope, ResultItem, RunwareErrorItem } from './runware-client';

/** Runware's items are flat records with a nested error at most: anything deeper is not a result. */
export const MAX_DEPTH = 12;
export const MAX_ITEMS = 16;

const uuid = z.string().min(1).max(100);
const item = z.looseObject({
  taskUUID: uuid,
  taskType: z.string().max(100).optional(),
  status: z.string().max(100).optional(),
  videoUUID: z.string().max(200).optional(),
  videoURL: z.string().max(8192).optional(),
});
const errorItem = z
  .looseObject({ code: z.string().max(200).optional(), message: z.string().max(8192).optional(), taskUUID: uuid.optional() })
  .refine((e) => typeof e.code === 'string' || typeof e.message === 'string', 'an error needs a code or a message');

const WebhookBody = z.union([
  z.looseObject({ data: z.array(item).max(MAX_ITEMS), errors: z.array(errorItem).max(MAX_ITEMS).optional() }),
  z.looseObject({ errors: z.array(errorItem).min(1).max(MAX_ITEMS) }),
  z.looseObject({ error: errorItem, taskUUID: uuid.optional() }),
  item,
  z.looseObject({ code: z.string().max(200), message: z.string().max(8192).optional() }),
]);

export type WebhookRead = { ok: true; env: Envelope; unattributed: RunwareErrorItem[] } | { ok: false; reason: string };

/** The body as an envelope (plus errors no task can be found for), or a short reason to answer 400. */
export function readWebhookBody(body: unknown): WebhookRead {
  if (!isPlainObject(body)) return { ok: false, reason: 'not a Runware result (a JSON object was expected)' };
  const parsed = WebhookBody.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not a Runware result' };
  const b = parsed.data as Record<string, unknown>;
  let data: ResultItem[] = [];
  let errors: RunwareErrorItem[] = [];
  if (Array.isArray(b.data)) {
    data = b.data as ResultItem[];
    errors = (b.errors as RunwareErrorItem[] | undefined) ?? [];
  } else if (Array.isArray(b.errors)) errors = b.errors as RunwareErrorItem[];
  else if (isPlainObject(b.error)) {
    const e = b.error as RunwareErrorItem;
    errors = [{ ...e, taskUUID: e.taskUUID ?? (typeof b.taskUUID === 'string' ? b.taskUUID : undefined) }];
  } else if (typeof b.taskUUID === 'string') {
    const bareError = typeof b.code === 'string' && b.videoURL === undefined && b.videoUUID === undefined;
    if (bareError) errors = [b as RunwareErrorItem];
    else data = [b as ResultItem];
  } else errors = [b as RunwareErrorItem];
  if (data.length === 0 && errors.length === 0) return { ok: false, reason: 'not a Runware result (empty)' };
  const unattributed = errors.filter((e) => typeof e.taskUUID !== 'string');
  return { ok: true, env: { data, errors: errors.filter((e) => typeof e.taskUUID === 'string') }, unattributed };
}

/** Split an envelope by task. */
export function byTask(env: Envelope): Map<string, Envelope> {
  const out = new Map<string, Envelope>();
  const get = (u: string) => {
    let e = out.get(u);
    if (!e) out.set(u, (e = { data: [], errors: [] }));
    return e;
  };
  for (const d of env.data) get(d.taskUUID).data.push(d);
  for (const e of env.errors) if (typeof e.taskUUID === 'string') get(e.taskUUID).errors.push(e);
  return out;
}
