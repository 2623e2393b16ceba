/**
 * The simulator's own check of an Ovi `videoInference` task, written from the model's API page
 * (shared/ovi-task.md) and deliberately independent of the product's zod schema: the simulator
 * plays the real service, so a mistake in the schema shows up as a rejected task in tests.
 *
 * Every problem becomes one issue: `invalid<Field>` (bad value), `missing<Field>` (required and
 * absent), `unknownParameter` (a field Ovi does not take, at any depth) or `invalidCacheRange`
 * (accelerator fields that are fine alone but not together; `parameter` lists them all).
 */

export const OVI_MODEL = 'runware:190@1';
export const OUTPUT_FORMATS = ['MP4', 'WEBM', 'MOV'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const MAX_SEED = 9223372036854775807n; // 2^63 - 1
const DEFAULT_STEPS = 30;

export interface ValidationIssue {
  code: string;
  message: string;
  /** The dotted path of the field, or every field involved in a cross-field rule. */
  parameter: string | string[];
  /** The JSON type the field must have, or 'validation' for rules that are not about one value. */
  type: string;
}

/** What the simulator needs of a valid task to run the job. */
export interface AcceptedTask {
  taskUUID: string;
  positivePrompt: string;
  numberResults: number;
  seed?: bigint;
  outputFormat: OutputFormat;
  includeCost: boolean;
  webhookURL?: string;
  uploadEndpoint?: string;
}

interface Rule {
  type: 'integer' | 'number' | 'string' | 'boolean';
  must: string;
  test(value: unknown): boolean;
}
interface Group {
  fields: Shape;
  required?: string[];
}
type Shape = { [field: string]: Rule | Group };

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_V4_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
// Runware lists PNG, JPG and WEBP only: a data URI of any other image type (gif, bmp, avif...) is refused.
const DATA_URI_RE = /^data:image\/(?:png|jpeg|webp);base64,[A-Za-z0-9+/]+={0,2}$/;
const BASE64_RE = /^[A-Za-z0-9+/=]{16,}$/;

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function int(min: number, max?: number): Rule {
  return {
    type: 'integer',
    must: max === undefined ? `Must be an integer greater than or equal to ${min}.` : `Must be an integer between ${min} and ${max}.`,
    test: (v) => isInt(v) && v >= min && (max === undefined || v <= max),
  };
}
function num(min: number, max: number): Rule {
  return {
    type: 'number',
    must: `Must be a number between ${min} and ${max}.`,
    test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max,
  };
}
function oneOf(...values: string[]): Rule {
  return {
    type: 'string',
    must: values.length === 1 ? `Must be '${values[0]}'.` : `Must be one of: ${values.join(', ')}.`,
    test: (v) => typeof v === 'string' && values.includes(v),
  };
}
const bool: Rule = { type: 'boolean', must: 'Must be a boolean.', test: (v) => typeof v === 'boolean' };
const text: Rule = { type: 'string', must: 'Must be a string.', test: (v) => typeof v === 'string' };
const prompt: Rule = {
  type: 'string',
  must: 'Must be a non-empty string.',
  test: (v) => typeof v === 'string' && v.trim() !== '',
};
const uuidV4: Rule = { type: 'string', must: 'Must be a UUID v4.', test: (v) => typeof v === 'string' && UUID_V4_RE.test(v) };
const httpUrl: Rule = { type: 'string', must: 'Must be an http(s) URL.', test: (v) => typeof v === 'string' && isHttpUrl(v) };
const slgLayer: Rule = {
  type: 'integer',
  must: 'Must be an integer between 0 and 30, or null to disable skip-layer guidance.',
  test: (v) => v === null || (isInt(v) && v >= 0 && v <= 30),
};
// parseLossless hands integers beyond 2^53 over as decimal strings, so both forms are seeds.
const seed: Rule = {
  type: 'integer',
  must: `Must be an integer between 0 and ${MAX_SEED}.`,
  test: (v) => toSeed(v) !== undefined,
};
const image: Rule = {
  type: 'string',
  must: 'Must be an image UUID, an http(s) URL, a data URI (data:image/png|jpeg|webp;base64,...) or base64 data.',
  test: (v) => typeof v === 'string' && (UUID_RE.test(v) || isHttpUrl(v) || DATA_URI_RE.test(v) || BASE64_RE.test(v)),
};

const SHAPE: Shape = {
  taskType: oneOf('videoInference'),
  taskUUID: uuidV4,
  model: oneOf(OVI_MODEL),
  positivePrompt: prompt,
  fps: int(1, 120),
  seed,
  steps: int(1, 100),
  outputType: oneOf('URL'),
  outputFormat: oneOf(...OUTPUT_FORMATS),
  outputQuality: int(20, 99),
  webhookURL: httpUrl,
  deliveryMethod: oneOf('async'),
  uploadEndpoint: httpUrl,
  safety: { fields: { checkContent: bool, mode: oneOf('none', 'fast', 'full') } },
  ttl: int(60),
  includeCost: bool,
  numberResults: int(1, 4),
  acceleratorOptions: {
    fields: {
      cacheStartStep: int(0),
      cacheEndStep: int(1),
      cacheStartStepPercentage: int(0, 99),
      cacheEndStepPercentage: int(1, 100),
      cacheMaxConsecutiveSteps: int(1, 5),
      teaCache: bool,
      teaCacheDistance: num(0, 1),
    },
  },
  inputs: { fields: { image }, required: ['image'] },
  advancedFeatures: {
    fields: {
      audioCFGScale: num(0, 10),
      videoCFGScale: num(0, 10),
      slgLayer,
      audioNegativePrompt: text,
      videoNegativePrompt: text,
    },
  },
};
const REQUIRED = ['taskType', 'taskUUID', 'model', 'positivePrompt'];

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** A seed as bigint, or undefined when it is not an integer in 0..2^63-1. */
export function toSeed(value: unknown): bigint | undefined {
  let n: bigint;
  if (isInt(value)) n = BigInt(value);
  else if (typeof value === 'string' && /^\d{1,20}$/.test(value)) n = BigInt(value);
  else return undefined;
  return n >= 0n && n <= MAX_SEED ? n : undefined;
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function checkShape(value: Record<string, unknown>, shape: Shape, required: string[], prefix: string, out: ValidationIssue[]): void {
  for (const name of required) {
    if (!has(value, name) || value[name] === undefined) {
      const rule = shape[name];
      out.push({
        code: `missing${capitalize(name)}`,
        message: `Missing required parameter '${prefix + name}'.`,
        parameter: prefix + name,
        type: 'type' in rule ? rule.type : 'object',
      });
    }
  }
  for (const [name, field] of Object.entries(value)) {
    const path = prefix + name;
    if (!has(shape, name)) {
      out.push({ code: 'unknownParameter', message: `Unknown parameter '${path}'.`, parameter: path, type: 'validation' });
      continue;
    }
    if (required.includes(name) && field === undefined) continue;
    const rule = shape[name];
    if ('fields' in rule) {
      if (!isRecord(field)) {
        out.push({ code: `invalid${capitalize(name)}`, message: `Invalid value for '${path}' parameter. Must be an object.`, parameter: path, type: 'object' });
      } else {
        checkShape(field, rule.fields, rule.required ?? [], path + '.', out);
      }
    } else if (!rule.test(field)) {
      out.push({ code: `invalid${capitalize(name)}`, message: `Invalid value for '${path}' parameter. ${rule.must}`, parameter: path, type: rule.type });
    }
  }
}

/** Cross-field accelerator rules, checked only between fields that are valid on their own. */
function checkCacheRange(task: Record<string, unknown>, out: ValidationIssue[]): void {
  const acc = task.acceleratorOptions;
  if (!isRecord(acc)) return;
  const p = (k: string) => `acceleratorOptions.${k}`;
  const get = (k: string): number | undefined => {
    const v = acc[k];
    const rule = (SHAPE.acceleratorOptions as Group).fields[k] as Rule;
    return isInt(v) && rule.test(v) ? v : undefined;
  };
  const issue = (fields: string[], message: string) => out.push({ code: 'invalidCacheRange', message, parameter: fields, type: 'validation' });
  const start = get('cacheStartStep');
  const end = get('cacheEndStep');
  const startPct = get('cacheStartStepPercentage');
  const endPct = get('cacheEndStepPercentage');
  if (has(acc, 'cacheStartStep') && has(acc, 'cacheStartStepPercentage')) {
    issue([p('cacheStartStep'), p('cacheStartStepPercentage')], `Give either '${p('cacheStartStep')}' or '${p('cacheStartStepPercentage')}', not both.`);
  }
  if (has(acc, 'cacheEndStep') && has(acc, 'cacheEndStepPercentage')) {
    issue([p('cacheEndStep'), p('cacheEndStepPercentage')], `Give either '${p('cacheEndStep')}' or '${p('cacheEndStepPercentage')}', not both.`);
  }
  if (start !== undefined && end !== undefined && start >= end) {
    issue([p('cacheStartStep'), p('cacheEndStep')], `'${p('cacheStartStep')}' must be less than '${p('cacheEndStep')}'.`);
  }
  if (startPct !== undefined && endPct !== undefined && startPct >= endPct) {
    issue(
      [p('cacheStartStepPercentage'), p('cacheEndStepPercentage')],
      `'${p('cacheStartStepPercentage')}' must be less than '${p('cacheEndStepPercentage')}'.`,
    );
  }
  const stepsValid = !has(task, 'steps') || (SHAPE.steps as Rule).test(task.steps);
  const steps = has(task, 'steps') && isInt(task.steps) ? task.steps : DEFAULT_STEPS;
  if (end !== undefined && stepsValid && end > steps) {
    issue([p('cacheEndStep'), 'steps'], `'${p('cacheEndStep')}' must be less than or equal to 'steps' (${steps}${has(task, 'steps') ? '' : ', the default'}).`);
  }
}

/** Check one videoInference task; `accepted` is set only when there is no issue. */
export function validateVideoInference(
  task: Record<string, unknown>,
  rules: { requireInputs?: boolean } = {},
): { issues: ValidationIssue[]; accepted?: AcceptedTask } {
  const issues: ValidationIssue[] = [];
  checkShape(task, SHAPE, rules.requireInputs ? [...REQUIRED, 'inputs'] : REQUIRED, '', issues);
  checkCacheRange(task, issues);
  if (issues.length > 0) return { issues };
  return {
    issues,
    accepted: {
      taskUUID: task.taskUUID as string,
      positivePrompt: task.positivePrompt as string,
      numberResults: (task.numberResults as number | undefined) ?? 1,
      seed: task.seed === undefined ? undefined : toSeed(task.seed),
      outputFormat: (task.outputFormat as OutputFormat | undefined) ?? 'MP4',
      includeCost: task.includeCost === true,
      webhookURL: task.webhookURL as string | undefined,
      uploadEndpoint: task.uploadEndpoint as string | undefined,
    },
  };
}
