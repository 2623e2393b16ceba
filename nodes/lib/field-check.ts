/**
 * The wording of every field rule, and the cross-field rules, in one dependency-free module.
 * It runs in two places: the runtime (task-schema.ts turns zod issues into these messages) and the
 * editor (scripts/build.js ships this compiled file to the browser as window.OVI_CHECK), so a user
 * sees the same sentence in the edit dialog and in a Catch node. Keep it free of imports.
 */

export type FieldGroup = 'core' | 'advanced' | 'accelerator' | 'delivery';
export type FieldKind = 'string' | 'prompt' | 'integer' | 'number' | 'boolean' | 'enum' | 'seed' | 'url' | 'image' | 'uuid';

/** One task field as the editor and the docs see it; derived from the zod schema (task-schema.ts). */
export interface FieldMeta {
  path: string; // API path, e.g. "advancedFeatures.videoCFGScale"
  group: FieldGroup;
  kind: FieldKind;
  min?: number | string; // string only for the seed's 2^63-1
  max?: number | string;
  step?: number;
  maxLength?: number; // text fields: at most this many characters
  values?: string[];
  nullable?: boolean;
  required?: boolean;
  fixed?: boolean; // one allowed value, set by the node
  serviceDefault?: unknown; // what Runware applies when the field is absent
  description?: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
// Runware lists PNG, JPG and WEBP as its image formats: anything else is refused here, not after a paid round trip.
const DATA_URI_RE = /^data:image\/(png|jpeg|jpg|webp);base64,[A-Za-z0-9+/]+={0,2}$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
export const SEED_MAX = '9223372036854775807';
/** Largest image string we accept (about 10 MiB of image as base64). */
export const MAX_IMAGE_CHARS = 14 * 1024 * 1024;

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value !== 'object') return typeof value === 'undefined' ? 'nothing' : 'a ' + typeof value;
  if (isPlainObject(value)) return 'an object';
  // A Date, Buffer or other class instance, from any realm: say which ("an object" reads as acceptable).
  return 'a ' + classNameOf(value);
}

function classNameOf(value: object): string {
  try {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
    const name = proto?.constructor?.name;
    if (typeof name === 'string' && name) return name;
  } catch {
    // a hostile Proxy: fall through to the tag
  }
  return Object.prototype.toString.call(value).slice(8, -1) || 'object';
}

/**
 * A JSON-like object: made by an object literal, JSON.parse or Object.create(null), in THIS realm or
 * any other (a function node runs in a vm context with its own Object.prototype, so an identity test
 * would reject its objects). Not a Date, Buffer, Map, array or class instance.
 */
export function isPlainObject(value: unknown): value is { [key: string]: unknown } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  try {
    if (Object.prototype.toString.call(value) !== '[object Object]') return false;
    const proto = Object.getPrototypeOf(value);
    // null, or some realm's Object.prototype (the only standard object whose own prototype is null)
    return proto === null || Object.getPrototypeOf(proto) === null;
  } catch {
    return false; // a Proxy whose traps throw is not plain data
  }
}

function rangeText(meta: FieldMeta): string {
  const hasMin = meta.min !== undefined;
  const hasMax = meta.max !== undefined;
  if (hasMin && hasMax) return ' between ' + meta.min + ' and ' + meta.max;
  if (hasMin) return ' of at least ' + meta.min;
  if (hasMax) return ' of at most ' + meta.max;
  return '';
}

export function seedInRange(value: unknown): boolean {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 && !Object.is(value, -0);
  let digits: string;
  if (typeof value === 'bigint') {
    if (value < BigInt(0)) return false;
    digits = value.toString();
  } else if (typeof value === 'string' && /^\d{1,19}$/.test(value)) digits = value.replace(/^0+(?=\d)/, '');
  else return false;
  return digits.length < SEED_MAX.length || (digits.length === SEED_MAX.length && digits <= SEED_MAX);
}

export function isUuidV4(value: unknown): boolean {
  return typeof value === 'string' && UUID_V4_RE.test(value);
}

export function isHttpUrl(value: unknown): boolean {
  return typeof value === 'string' && value.length <= 8192 && /^https?:\/\/[^\s/?#]+[^\s]*$/i.test(value);
}

export function isPrompt(value: unknown): boolean {
  return typeof value === 'string' && value.trim().length > 0;
}

let labelOf: ((path: string) => string | undefined) | undefined;

/**
 * Messages name a field by the word the form uses, with its API name in brackets ("Videos
 * (numberResults) must be ..."). The runtime and the editor each pass their translated form labels.
 */
export function setFieldLabels(fn: ((path: string) => string | undefined) | undefined): void {
  labelOf = fn;
}

/** The key of a field's form label in the ovi-submit catalog (label.<key>). */
export function labelKey(path: string): string {
  if (path === 'safety.mode') return 'safetyMode';
  if (path === 'inputs.image') return 'image';
  return path.slice(path.lastIndexOf('.') + 1);
}

export function fieldName(path: string): string {
  let label: string | undefined;
  try {
    label = labelOf?.(path);
  } catch {
    label = undefined;
  }
  return label && label !== path ? label + ' (' + path + ')' : path;
}

/** Returns null when the value is acceptable for the field, else the message a user should read. */
export function checkFieldValue(meta: FieldMeta, value: unknown): string | null {
  const p = fieldName(meta.path);
  if (value === undefined) return meta.required ? p + ' is required' : null;
  if (value === null) return meta.nullable ? null : p + ' must not be null (leave it out instead)';
  const got = ', got ' + describe(value);
  switch (meta.kind) {
    case 'integer':
    case 'number': {
      const isNum = typeof value === 'number' && Number.isFinite(value);
      const ok =
        isNum &&
        (meta.kind === 'number' || Number.isInteger(value)) &&
        (meta.min === undefined || (value as number) >= Number(meta.min)) &&
        (meta.max === undefined || (value as number) <= Number(meta.max));
      return ok ? null : p + ' must be ' + (meta.kind === 'integer' ? 'an integer' : 'a number') + rangeText(meta) + got;
    }
    case 'seed':
      return seedInRange(value)
        ? null
        : p + ' must be an integer between 0 and ' + SEED_MAX + ' (as a number up to 9007199254740991, above that as a decimal string)' + got;
    case 'boolean':
      return typeof value === 'boolean' ? null : p + ' must be true or false' + got;
    case 'enum': {
      const values = meta.values || [];
      if (typeof value === 'string' && values.indexOf(value) >= 0) return null;
      return p + (values.length === 1 ? ' must be "' + values[0] + '"' : ' must be one of ' + values.join(', ')) + got;
    }
    case 'string':
      if (typeof value !== 'string') return p + ' must be a string' + got;
      return tooLong(meta, value);
    case 'prompt':
      if (typeof value !== 'string' || value.trim().length === 0) return p + ' must be a non-empty string' + got;
      return tooLong(meta, value);
    case 'uuid':
      return isUuidV4(value) ? null : p + ' must be a UUID v4' + got;
    case 'url':
      return isHttpUrl(value) ? null : p + ' must be an http(s) URL' + got;
    case 'image': {
      if (typeof value !== 'string' || value.length === 0) return p + ' must be an image as a UUID, URL, data URI or base64 string' + got;
      if (value.length > MAX_IMAGE_CHARS) return p + ' is too large (' + value.length + ' characters, at most ' + MAX_IMAGE_CHARS + ')';
      if (UUID_RE.test(value) || isHttpUrl(value)) return null;
      if (value.slice(0, 5) === 'data:') {
        return DATA_URI_RE.test(value) ? null : p + ' is a data URI but not a base64 PNG, JPEG or WEBP image (data:image/png|jpeg|webp;base64,...)';
      }
      return value.length >= 16 && value.length % 4 === 0 && BASE64_RE.test(value)
        ? null
        : p + ' must be an image as a UUID, URL, data URI or base64 string' + got;
    }
  }
  return null;
}

function tooLong(meta: FieldMeta, value: string): string | null {
  return meta.maxLength !== undefined && value.length > meta.maxLength
    ? fieldName(meta.path) + ' must be at most ' + meta.maxLength + ' characters, got ' + value.length
    : null;
}

export interface CrossFieldIssue {
  fields: string[];
  message: string;
}

type Loose = { [k: string]: unknown };

/** Rules that involve more than one field. `task` is the (partial) task in API shape. */
export function checkCrossFieldRules(task: Loose, defaultSteps = 30): CrossFieldIssue[] {
  const issues: CrossFieldIssue[] = [];
  const acc = task.acceleratorOptions as Loose | undefined;
  if (!acc || typeof acc !== 'object') return issues;
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const a = 'acceleratorOptions.';
  const start = num(acc.cacheStartStep);
  const end = num(acc.cacheEndStep);
  const startPct = num(acc.cacheStartStepPercentage);
  const endPct = num(acc.cacheEndStepPercentage);
  const n = (key: string) => fieldName(a + key);
  if (start !== undefined && end !== undefined && start >= end) {
    issues.push({
      fields: [a + 'cacheStartStep', a + 'cacheEndStep'],
      message: n('cacheStartStep') + ' is ' + start + ' but must be less than ' + n('cacheEndStep') + ', ' + end,
    });
  }
  if (startPct !== undefined && endPct !== undefined && startPct >= endPct) {
    issues.push({
      fields: [a + 'cacheStartStepPercentage', a + 'cacheEndStepPercentage'],
      message: n('cacheStartStepPercentage') + ' is ' + startPct + ' but must be less than ' + n('cacheEndStepPercentage') + ', ' + endPct,
    });
  }
  const stepsValue = num(task.steps);
  const steps = stepsValue === undefined ? defaultSteps : stepsValue;
  if (end !== undefined && end > steps) {
    issues.push({
      fields: [a + 'cacheEndStep', 'steps'],
      message:
        n('cacheEndStep') + ' is ' + end + ' but must be at most ' + fieldName('steps') + ', ' + steps + (stepsValue === undefined ? ' (the default)' : ''),
    });
  }
  if (acc.cacheStartStep !== undefined && acc.cacheStartStepPercentage !== undefined) {
    issues.push({
      fields: [a + 'cacheStartStep', a + 'cacheStartStepPercentage'],
      message: 'give either ' + n('cacheStartStep') + ' or ' + n('cacheStartStepPercentage') + ', not both',
    });
  }
  if (acc.cacheEndStep !== undefined && acc.cacheEndStepPercentage !== undefined) {
    issues.push({
      fields: [a + 'cacheEndStep', a + 'cacheEndStepPercentage'],
      message: 'give either ' + n('cacheEndStep') + ' or ' + n('cacheEndStepPercentage') + ', not both',
    });
  }
  return issues;
}
