/**
 * THE source of truth for the Ovi videoInference task: field names (the API's own, with its
 * nesting), types, ranges, service defaults and editor groups. Runtime validation parses with this
 * schema; the editor's field metadata (editorMetadata) and the README's field table are derived
 * from it; the wording of each rule lives in field-check.ts, which both sides share.
 */
import { z } from 'zod';
import {
  FieldGroup,
  FieldKind,
  FieldMeta,
  SEED_MAX,
  checkCrossFieldRules,
  checkFieldValue,
  isHttpUrl,
  isPrompt,
  isUuidV4,
  seedInRange,
  describe,
  isPlainObject,
} from './field-check';

export const MODEL_ID = 'runware:190@1';
export const GROUPS: readonly FieldGroup[] = ['core', 'advanced', 'accelerator', 'delivery'];
export const OUTPUT_FORMATS = ['MP4', 'WEBM', 'MOV'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const MIME_TYPES: Record<OutputFormat, string> = { MP4: 'video/mp4', WEBM: 'video/webm', MOV: 'video/quicktime' };
export const EXTENSIONS: Record<OutputFormat, string> = { MP4: 'mp4', WEBM: 'webm', MOV: 'mov' };

interface LeafMeta {
  group: FieldGroup;
  kind?: FieldKind; // when the JSON Schema type alone does not say it
  serviceDefault?: unknown;
  step?: number;
  required?: boolean;
  min?: number | string;
  max?: number | string;
  description: string;
}
const m = (meta: LeafMeta) => meta as unknown as Record<string, unknown>;

const int = (min: number, max?: number) => {
  const s = z.number().int().min(min);
  return max === undefined ? s : s.max(max);
};
const num = (min: number, max: number) => z.number().min(min).max(max);
const url = () => z.string().refine(isHttpUrl);
/** Our cap on prompt text (Runware publishes none for Ovi): a runaway template must not become a paid job. */
export const MAX_PROMPT_CHARS = 3000;
const text = () => z.string().max(MAX_PROMPT_CHARS);

const seed = z
  .union([z.number(), z.string(), z.bigint()])
  .refine(seedInRange)
  .transform((v) => BigInt(v));

const image = z.string().refine((v) => checkFieldValue({ path: 'inputs.image', group: 'core', kind: 'image' }, v) === null);

export const TaskSchema = z
  .strictObject({
    taskType: z
      .literal('videoInference')
      .optional()
      .meta(m({ group: 'core', description: 'Always videoInference.' })),
    taskUUID: z
      .string()
      .refine(isUuidV4)
      .optional()
      .meta(m({ group: 'core', kind: 'uuid', description: 'Generated unless the msg brings one.' })),
    model: z
      .literal(MODEL_ID)
      .optional()
      .meta(m({ group: 'core', serviceDefault: MODEL_ID, description: 'The Ovi model.' })),
    positivePrompt: text()
      .refine(isPrompt)
      .meta(
        m({
          group: 'core',
          kind: 'prompt',
          required: true,
          description: 'What to generate. Speech between <S> and <E>, an audio description between <AUDCAP> and <ENDAUDCAP>.',
        }),
      ),
    inputs: z
      .strictObject({
        image: image.meta(
          m({ group: 'core', kind: 'image', required: true, description: 'Start image (UUID, URL, data URI or base64): makes the task image-to-video.' }),
        ),
      })
      .optional(),
    numberResults: int(1, 4)
      .optional()
      .meta(m({ group: 'core', serviceDefault: 1, description: 'How many videos, each with a different seed.' })),
    fps: int(1, 120)
      .optional()
      .meta(m({ group: 'core', serviceDefault: 24, description: 'Frames per second.' })),
    seed: seed
      .optional()
      .meta(
        m({ group: 'core', kind: 'seed', min: 0, max: SEED_MAX, description: 'Seed for reproducible results; empty lets Runware pick a random 32-bit seed.' }),
      ),
    steps: int(1, 100)
      .optional()
      .meta(m({ group: 'core', serviceDefault: 30, description: 'Denoising steps: more is more detailed and slower.' })),
    advancedFeatures: z
      .strictObject({
        videoCFGScale: num(0, 10)
          .optional()
          .meta(m({ group: 'advanced', serviceDefault: 5, step: 0.1, description: 'How closely the video follows the prompt.' })),
        audioCFGScale: num(0, 10)
          .optional()
          .meta(m({ group: 'advanced', serviceDefault: 4, step: 0.1, description: 'How closely the audio follows the prompt.' })),
        videoNegativePrompt: text()
          .optional()
          .meta(m({ group: 'advanced', description: 'What to keep out of the video.' })),
        audioNegativePrompt: text()
          .optional()
          .meta(m({ group: 'advanced', description: 'What to keep out of the audio.' })),
        slgLayer: int(0, 30)
          .nullable()
          .optional()
          .meta(m({ group: 'advanced', description: 'Skip-layer guidance layer; null disables it.' })),
      })
      .optional(),
    safety: z
      .strictObject({
        checkContent: z
          .boolean()
          .optional()
          .meta(m({ group: 'advanced', serviceDefault: false, description: 'Check the output against the content policy.' })),
        mode: z
          .enum(['none', 'fast', 'full'])
          .optional()
          .meta(m({ group: 'advanced', serviceDefault: 'none', description: 'none: off; fast: key frames; full: every frame.' })),
      })
      .optional(),
    acceleratorOptions: z
      .strictObject({
        teaCache: z
          .boolean()
          .optional()
          .meta(m({ group: 'accelerator', serviceDefault: false, description: 'Skip steps whose output barely changes.' })),
        teaCacheDistance: num(0, 1)
          .optional()
          .meta(m({ group: 'accelerator', serviceDefault: 0.5, step: 0.01, description: 'Higher is faster, lower keeps quality.' })),
        cacheStartStep: int(0)
          .optional()
          .meta(m({ group: 'accelerator', description: 'Step at which caching starts (before cacheEndStep).' })),
        cacheEndStep: int(1)
          .optional()
          .meta(m({ group: 'accelerator', description: 'Step at which caching ends (at most steps).' })),
        cacheStartStepPercentage: int(0, 99)
          .optional()
          .meta(m({ group: 'accelerator', description: 'Caching start as a percentage of steps.' })),
        cacheEndStepPercentage: int(1, 100)
          .optional()
          .meta(m({ group: 'accelerator', description: 'Caching end as a percentage of steps.' })),
        cacheMaxConsecutiveSteps: int(1, 5)
          .optional()
          .meta(m({ group: 'accelerator', serviceDefault: 3, description: 'At most this many cached steps in a row.' })),
      })
      .optional(),
    outputType: z
      .literal('URL')
      .optional()
      .meta(m({ group: 'delivery', serviceDefault: 'URL', description: 'Results come as URLs.' })),
    outputFormat: z
      .enum(OUTPUT_FORMATS)
      .optional()
      .meta(m({ group: 'delivery', serviceDefault: 'MP4', description: 'MP4 (H.264), WEBM or MOV.' })),
    outputQuality: int(20, 99)
      .optional()
      .meta(m({ group: 'delivery', serviceDefault: 95, description: 'Compression quality: higher is better and larger.' })),
    deliveryMethod: z
      .literal('async')
      .optional()
      .meta(m({ group: 'delivery', serviceDefault: 'async', description: 'Always async for video.' })),
    webhookURL: url()
      .optional()
      .meta(m({ group: 'delivery', kind: 'url', description: 'Runware POSTs each finished result here.' })),
    uploadEndpoint: url()
      .optional()
      .meta(m({ group: 'delivery', kind: 'url', description: 'Runware PUTs the video bytes here (e.g. a presigned S3 URL).' })),
    ttl: int(60)
      .optional()
      .meta(m({ group: 'delivery', description: 'Seconds the result URL stays valid (at least 60).' })),
    includeCost: z
      .boolean()
      .optional()
      .meta(m({ group: 'delivery', serviceDefault: false, description: 'Report the cost of each result.' })),
  })
  .superRefine((task, ctx) => {
    for (const issue of checkCrossFieldRules(task as unknown as Record<string, unknown>)) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.fields[0].split('.'), params: { fields: issue.fields } });
    }
  });

/** The validated task (seed as bigint so its digits stay exact). */
export type Task = z.output<typeof TaskSchema>;
/** What users may write (msg.payload objects, node settings): seed as number, string or bigint. */
export type TaskInput = z.input<typeof TaskSchema>;

type ZodLike = z.ZodType;

function unwrap(s: ZodLike): ZodLike {
  let cur: ZodLike = s;
  for (;;) {
    const def = cur._zod.def as { type: string; innerType?: ZodLike };
    if ((def.type === 'optional' || def.type === 'nullable') && def.innerType) cur = def.innerType;
    else return cur;
  }
}

function leafMeta(path: string, schema: ZodLike): FieldMeta {
  const meta = (z.globalRegistry.get(schema) ?? {}) as unknown as LeafMeta;
  const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Record<string, unknown>;
  const variants = (json.anyOf as Record<string, unknown>[] | undefined) ?? [json];
  const main = variants.find((v) => v.type !== 'null') ?? json;
  const nullable = variants.some((v) => v.type === 'null');
  const values = (main.enum as string[] | undefined) ?? (main.const !== undefined ? [String(main.const)] : undefined);
  const type = main.type as string | undefined;
  const kind: FieldKind =
    meta.kind ?? (values ? 'enum' : type === 'integer' ? 'integer' : type === 'number' ? 'number' : type === 'boolean' ? 'boolean' : 'string');
  const out: FieldMeta = { path, group: meta.group, kind, description: meta.description };
  const min = meta.min ?? (main.minimum as number | undefined);
  // z.number().int() without an explicit max reports MAX_SAFE_INTEGER: that is no user-facing bound.
  const rawMax = main.maximum === Number.MAX_SAFE_INTEGER ? undefined : (main.maximum as number | undefined);
  const max = meta.max ?? rawMax;
  if (min !== undefined) out.min = min;
  if (max !== undefined) out.max = max;
  if (meta.step !== undefined) out.step = meta.step;
  if (typeof main.maxLength === 'number') out.maxLength = main.maxLength;
  if (values) out.values = values;
  if (values && values.length === 1) out.fixed = true;
  if (nullable) out.nullable = true;
  if (meta.required) out.required = true;
  if (meta.serviceDefault !== undefined) out.serviceDefault = meta.serviceDefault;
  return out;
}

function collect(shape: Record<string, ZodLike>, prefix: string, out: FieldMeta[]): void {
  for (const [key, field] of Object.entries(shape)) {
    const inner = unwrap(field);
    const def = inner._zod.def as { type: string; shape?: Record<string, ZodLike> };
    if (def.type === 'object' && def.shape) collect(def.shape, prefix + key + '.', out);
    else out.push(leafMeta(prefix + key, field));
  }
}

let cachedFields: FieldMeta[] | undefined;
/** Every task field, in schema order, with the metadata the editor, the docs and the messages use. */
export function taskFields(): FieldMeta[] {
  if (!cachedFields) {
    const out: FieldMeta[] = [];
    collect(TaskSchema.shape as unknown as Record<string, ZodLike>, '', out);
    cachedFields = out;
  }
  return cachedFields;
}

export function fieldByPath(path: string): FieldMeta | undefined {
  return taskFields().find((f) => f.path === path);
}

/** The nested group objects of the task (acceleratorOptions, advancedFeatures, inputs, safety). */
export const NESTED_GROUPS = ['inputs', 'advancedFeatures', 'safety', 'acceleratorOptions'] as const;

/** What scripts/build.js writes to resources/ovi-fields.js for the editor. */
export function editorMetadata(): { model: string; groups: readonly FieldGroup[]; nested: readonly string[]; fields: FieldMeta[] } {
  return { model: MODEL_ID, groups: GROUPS, nested: NESTED_GROUPS, fields: taskFields() };
}

export interface FieldIssue {
  path: string;
  fields?: string[];
  message: string;
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, k)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur;
}

/** Turn zod's issues into sentences that name the field and its rule. */
export function formatIssues(input: unknown, issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const full = path ? path + '.' + key : key;
        out.push({
          path: full,
          message: 'unknown field ' + JSON.stringify(full) + ' (fields use the API names, e.g. positivePrompt, advancedFeatures.videoCFGScale)',
        });
      }
      continue;
    }
    if (issue.code === 'custom' && issue.params && Array.isArray((issue.params as { fields?: unknown }).fields)) {
      out.push({ path, fields: (issue.params as { fields: string[] }).fields, message: issue.message });
      continue;
    }
    const meta = fieldByPath(path);
    const value = valueAt(input, issue.path);
    if (meta) {
      out.push({ path, message: checkFieldValue(meta, value) ?? path + ': ' + issue.message });
    } else if (issue.code === 'invalid_type' && issue.expected === 'object') {
      out.push({ path, message: (path || 'the task') + ' must be an object, got ' + describe(value) });
    } else {
      out.push({ path, message: (path || 'the task') + ': ' + issue.message });
    }
  }
  return out;
}

export type ValidationResult = { ok: true; task: Task } | { ok: false; issues: FieldIssue[] };

export function validateTask(input: unknown): ValidationResult {
  // zod takes any object for a group (a Date passes as {}, a Buffer yields one "unknown field" per
  // method): the groups must be plain objects before the schema looks inside them.
  if (isPlainObject(input)) {
    const bad = NESTED_GROUPS.filter((g) => input[g] !== undefined && !isPlainObject(input[g]));
    if (bad.length > 0) return { ok: false, issues: bad.map((g) => ({ path: g, message: g + ' must be an object, got ' + describe(input[g]) })) };
  }
  const result = TaskSchema.safeParse(input);
  if (result.success) return { ok: true, task: result.data };
  return { ok: false, issues: formatIssues(input, result.error.issues) };
}

/** The task as plain JSON data for msgs (no bigint: a seed beyond 2^53 becomes a decimal string). */
export function plainTask(task: Task): Record<string, unknown> {
  const out: Record<string, unknown> = { ...task };
  if (typeof task.seed === 'bigint') {
    out.seed = task.seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(task.seed) : task.seed.toString();
  }
  return out;
}
