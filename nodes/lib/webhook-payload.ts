/**
 * What Runware POSTs to a webhook, validated before anything is emitted. Whether a result arrives
 * bare or wrapped as {data:[item]} is not confirmed publicly, so both are accepted, as are the two
 * error shapes ({errors:[...]} and {error:{...}, taskUUID}).
 */
import { z } from 'zod';
import { Envelope, ResultItem, RunwareErrorItem } from './runware-client';

const uuid = z.string().min(1).max(100);
const item = z.looseObject({
  taskUUID: uuid,
  taskType: z.string().optional(),
  status: z.string().optional(),
  videoUUID: z.string().optional(),
  videoURL: z.string().optional(),
});
const errorItem = z.looseObject({ code: z.string().optional(), message: z.string().optional(), taskUUID: uuid.optional() });

const WebhookBody = z.union([
  z.looseObject({ data: z.array(item).min(1).max(16), errors: z.array(errorItem).optional() }),
  z.looseObject({
    errors: z
      .array(errorItem.extend({ taskUUID: uuid }))
      .min(1)
      .max(16),
  }),
  z.looseObject({ error: errorItem, taskUUID: uuid }),
  item,
]);

/** The body as an envelope, or a reason to answer 400. */
export function readWebhookBody(body: unknown): { ok: true; env: Envelope } | { ok: false; reason: string } {
  const parsed = WebhookBody.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'not a Runware result: ' + (parsed.error.issues[0]?.message ?? 'unexpected shape') };
  const b = parsed.data as Record<string, unknown>;
  if (Array.isArray(b.data)) return { ok: true, env: { data: b.data as ResultItem[], errors: (b.errors as RunwareErrorItem[] | undefined) ?? [] } };
  if (Array.isArray(b.errors)) return { ok: true, env: { data: [], errors: b.errors as RunwareErrorItem[] } };
  if (b.error && typeof b.error === 'object')
    return { ok: true, env: { data: [], errors: [{ ...(b.error as RunwareErrorItem), taskUUID: b.taskUUID as string }] } };
  return { ok: true, env: { data: [b as ResultItem], errors: [] } };
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
