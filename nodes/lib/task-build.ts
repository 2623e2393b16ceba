/**
 * From node settings plus a msg to one validated task. Precedence, field by field:
 * msg.payload object > msg.payload string (prompt only) / msg.image > the node's settings.
 * Node settings come from the editor (or ${ENV} substitution) as strings, so they are coerced by the
 * schema's own field kinds; msg values are taken as given, so a wrong type is a clear error.
 */
import { randomUUID } from 'crypto';
import { OviError } from './errors';
import { FieldMeta, describe, isPlainObject } from './field-check';
import { NESTED_GROUPS, MODEL_ID, Task, plainTask, taskFields, validateTask } from './task-schema';

type Obj = Record<string, unknown>;

/** Fields the node sets itself or takes from dedicated inputs, not from the per-field settings. */
const NOT_A_SETTING = new Set(['taskType', 'taskUUID', 'model', 'deliveryMethod', 'outputType', 'positivePrompt', 'inputs.image', 'webhookURL']);

/** Assign without ever touching a prototype, whatever the key (`__proto__` included). */
function setOwn(obj: Obj, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function getPath(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const k of path.split('.')) {
    if (!isPlainObject(cur) || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setPath(root: Obj, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = root;
  for (const k of keys.slice(0, -1)) {
    if (!isPlainObject(cur[k])) setOwn(cur, k, {});
    cur = cur[k] as Obj;
  }
  setOwn(cur, keys[keys.length - 1], value);
}

function coerceSetting(meta: FieldMeta, raw: unknown): unknown {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') return raw;
  const text = raw.trim();
  if (text === '') return undefined;
  if (meta.kind === 'integer' || meta.kind === 'number') {
    if (meta.nullable && text === 'null') return null;
    const n = Number(text);
    return Number.isFinite(n) ? n : raw;
  }
  if (meta.kind === 'boolean') return text === 'true' ? true : text === 'false' ? false : raw;
  return raw;
}

const settingsCache = new WeakMap<Obj, Obj>();

/** The node's per-field settings (API names and nesting), as a partial task; computed once per node. */
export function fieldsFromSettings(settings: Obj): Obj {
  let fields = settingsCache.get(settings);
  if (!fields) {
    fields = deriveFields(settings);
    settingsCache.set(settings, fields);
  }
  return overlay(fields, {}); // a fresh copy (nested groups too): callers modify it
}

function deriveFields(settings: Obj): Obj {
  const out: Obj = {};
  for (const meta of taskFields()) {
    if (NOT_A_SETTING.has(meta.path)) continue;
    const value = coerceSetting(meta, getPath(settings, meta.path));
    if (value !== undefined) setPath(out, meta.path, value);
  }
  return out;
}

/** Overlay msg.payload's fields on the node's, merging the nested groups key by key. */
export function overlay(base: Obj, override: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, isPlainObject(v) ? { ...v } : v);
  for (const k of Object.keys(override)) {
    const v = override[k];
    const current = out[k];
    if ((NESTED_GROUPS as readonly string[]).includes(k) && isPlainObject(v) && isPlainObject(current)) {
      const merged: Obj = { ...current };
      for (const nk of Object.keys(v)) setOwn(merged, nk, v[nk]);
      setOwn(out, k, merged);
    } else setOwn(out, k, v);
  }
  return out;
}

export interface BuildInput {
  settings: Obj; // the node's field settings (see fieldsFromSettings)
  prompt?: unknown; // the node's prompt, already evaluated from its typed input
  image?: string; // the image, already normalised (image-input.ts)
  payload?: unknown; // msg.payload
  taskUUID?: unknown; // msg.taskUUID
  webhookURL?: string; // from the Delivery settings
}

export interface BuiltTask {
  task: Task; // validated, seed as bigint: what goes on the wire
  plain: Obj; // the same as plain JSON for msg.ovi.task
}

/** At most this many issues are spelled out in one message (the rest are counted). */
const MAX_ISSUES_SHOWN = 3;

export function validationError(issues: { path: string; fields?: string[]; message: string }[]): OviError {
  const first = issues[0];
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((i) => i.message);
  const more = issues.length - shown.length;
  return new OviError({
    code: 'validation',
    message: shown.join('; ') + (more > 0 ? ' (and ' + more + ' more problem' + (more > 1 ? 's' : '') + ')' : ''),
    parameter: first ? (first.fields ?? first.path) : undefined,
  });
}

/**
 * msg.payload is the prompt (a string) or task fields (a plain object, from any realm: a function
 * node's objects come from a vm context). Absent, null or blank: nothing. Anything else is an error
 * that names what came, never silently ignored (a timestamp from an inject would otherwise start a
 * paid job with the node's own prompt the user did not mean to send).
 */
export function payloadKind(payload: unknown): 'none' | 'prompt' | 'fields' {
  if (payload === undefined || payload === null) return 'none';
  if (typeof payload === 'string') return payload.trim() === '' ? 'none' : 'prompt';
  if (isPlainObject(payload)) return 'fields';
  throw new OviError({
    code: 'validation',
    parameter: 'payload',
    message:
      'msg.payload must be the prompt (text) or an object of task fields, got ' +
      describe(payload) +
      (typeof payload === 'number' ? " (an inject timestamp? send the prompt, or an empty payload to use the node's prompt)" : ''),
  });
}

export function buildTask(input: BuildInput): BuiltTask {
  const kind = payloadKind(input.payload);
  let task = fieldsFromSettings(input.settings);
  if (typeof input.prompt === 'string' && input.prompt.trim() !== '') task.positivePrompt = input.prompt;
  if (kind === 'prompt') task.positivePrompt = input.payload;
  if (input.webhookURL) task.webhookURL = input.webhookURL;
  if (input.image !== undefined) task.inputs = { image: input.image };
  if (kind === 'fields') task = overlay(task, input.payload as Obj);

  if (input.taskUUID !== undefined && input.taskUUID !== null && task.taskUUID === undefined) setOwn(task, 'taskUUID', input.taskUUID);
  if (task.taskUUID === undefined) task.taskUUID = randomUUID();
  if (task.taskType === undefined) task.taskType = 'videoInference';
  if (task.model === undefined) task.model = MODEL_ID;
  if (task.deliveryMethod === undefined) task.deliveryMethod = 'async';

  const result = validateTask(task);
  if (!result.ok) {
    const err = validationError(result.issues);
    if (typeof task.taskUUID === 'string') err.taskUUID = task.taskUUID;
    throw err;
  }
  return { task: result.task, plain: plainTask(result.task) };
}
