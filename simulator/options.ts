/**
 * The simulator's knobs: their types, defaults, and a checked merge used by `createSimulator`,
 * `sim.configure()` and `POST /__sim/config` alike, so a typo in a test fails loudly instead of
 * silently leaving a fault switched off.
 */

/** Probabilities (0..1) and delays of the faults the simulator injects. All default to 0 (off). */
export interface FaultOptions {
  /** Extra milliseconds before every API request is handled (queueing at the service). */
  latencyMs: number;
  /** Answer 429 rateLimitExceeded with Retry-After; the tasks are NOT processed. */
  rateLimit: number;
  /** Answer 500, 502 or 503; the tasks are NOT processed. */
  serverError: number;
  /** Process the tasks (they ARE accepted), then destroy the socket: the lost-response case. */
  reset: number;
  /** Process the tasks, then answer 200 with a truncated, invalid JSON body. */
  malformed: number;
  /** Process the tasks, then hold the response for `slowMs` (longer than a client timeout). */
  slow: number;
  /** Per accepted job, drawn once at accept: the whole job ends in inferenceError. */
  failedGeneration: number;
  /** When not 0, every media download answers this HTTP status (see also `sim.failMedia`). */
  mediaStatus: number;
}

export type WebhookWrap = 'bare' | 'data';
/** How a failed generation is reported: an errors[] entry, or a data[] item with a nested error. */
export type FailureShape = 'errors' | 'item';
/** What a request with more than maxBatch getResponse tasks gets: a 400, or answers for the first ones only. */
export type BatchOverLimit = 'refuse' | 'partial';
/** 'alt' flips every unconfirmed protocol choice at once (see shapes.ts). */
export type ShapesMode = 'default' | 'alt';

/** The answer to a reused taskUUID: no public source gives its code, so tests can vary it. */
export interface DuplicateAnswer {
  status: number;
  code: string;
}

export interface SimulatorOptions {
  /** Interface to bind. Default 127.0.0.1. */
  host: string;
  /** Port to bind; 0 picks a free one. Default 0 (the CLI defaults to 8787). */
  port: number;
  /** Accepted `Authorization: Bearer` keys. Default ['sim-key']. */
  apiKeys: string[];
  /** Base of the videoURLs handed out; default the server's own http://host:port. */
  publicUrl: string;
  /** Time for result 0 of a job; result i takes renderMs * (1 + 0.25 i). Applies to new jobs. */
  renderMs: number;
  /** Largest accepted request body (bytes); beyond it → 413. Default 25 MB. */
  maxBodyBytes: number;
  /** When true, a request with more than one getResponse task → 400 unsupportedBatch (maxBatch 1 + refuse). */
  rejectBatchedPoll: boolean;
  /** When false, webhookURL is never POSTed (uploads still happen): tests the poll fallback. */
  webhooks: boolean;
  /**
   * Every unconfirmed choice below follows this mode while it is null: 'default' picks the form the
   * evidence favours, 'alt' the other one (see shapes.ts). A value set here overrides the mode.
   */
  shapes: ShapesMode;
  /** 'data' POSTs {"data":[item]} (default), 'bare' the item itself. */
  webhookWrap: WebhookWrap | null;
  /** 'errors' (default): errors[] entry next to data in a 200; 'item': a data[] item with status 'error'. */
  failureShape: FailureShape | null;
  /** Processing placeholders carry progress (0..99). Default false. */
  progress: boolean | null;
  /** Most getResponse tasks one request may carry; 0 = no limit (default). */
  maxBatch: number | null;
  /** What happens beyond maxBatch. Default 'refuse'. */
  batchOverLimit: BatchOverLimit | null;
  /** Status and code of the refusal of a reused taskUUID. Default 400 duplicateTaskUUID. */
  duplicateAnswer: DuplicateAnswer | null;
  /** Refuse a videoInference task without inputs (Runware's generated schema marks it required). Default false. */
  requireInputs: boolean | null;
  /** Extra identical deliveries of each result, to test receiver dedupe. Default 0. */
  webhookDuplicates: number;
  /** With renderMs 0: deliver (and await) the webhooks before answering the submit. */
  webhookBeforeAck: boolean;
  /** Waits before each redelivery of a failed webhook or upload; then it is given up. */
  webhookRetryDelaysMs: number[];
  /** Timeout of one outgoing webhook POST or upload PUT. */
  webhookTimeoutMs: number;
  /** Retry-After header value (seconds) sent with 429. */
  retryAfterSeconds: number;
  /** How long a `slow` fault holds the response. Default 30000. */
  slowMs: number;
  /** Seed of the PRNG that draws faults, so runs are reproducible. Default 1. */
  randomSeed: number;
  /** How many request-log entries are kept (oldest dropped first). */
  requestLogLimit: number;
  faults: FaultOptions;
  /** Receives one human-readable line per request and delivery (the CLI prints them). */
  log?: (line: string) => void;
}

/** What `createSimulator` and `configure` take: any subset, faults included field by field. */
export type SimulatorInit = Partial<Omit<SimulatorOptions, 'faults'>> & { faults?: Partial<FaultOptions> };

export const DEFAULT_FAULTS: Readonly<FaultOptions> = Object.freeze({
  latencyMs: 0,
  rateLimit: 0,
  serverError: 0,
  reset: 0,
  malformed: 0,
  slow: 0,
  failedGeneration: 0,
  mediaStatus: 0,
});

export function defaultOptions(): SimulatorOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    apiKeys: ['sim-key'],
    publicUrl: '',
    renderMs: 3000,
    maxBodyBytes: 25 * 1024 * 1024,
    rejectBatchedPoll: false,
    webhooks: true,
    shapes: 'default',
    webhookWrap: null,
    failureShape: null,
    progress: null,
    maxBatch: null,
    batchOverLimit: null,
    duplicateAnswer: null,
    requireInputs: null,
    webhookDuplicates: 0,
    webhookBeforeAck: false,
    webhookRetryDelaysMs: [250, 1000, 3000],
    webhookTimeoutMs: 10000,
    retryAfterSeconds: 1,
    slowMs: 30000,
    randomSeed: 1,
    requestLogLimit: 5000,
    faults: { ...DEFAULT_FAULTS },
  };
}

export class OptionError extends Error {}

type Check = (value: unknown, name: string) => unknown;

const num =
  (min: number, max = Number.MAX_SAFE_INTEGER, integer = false): Check =>
  (v, name) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
      throw new OptionError(`${name} must be ${integer ? 'an integer' : 'a number'} between ${min} and ${max}`);
    }
    return v;
  };
const bool: Check = (v, name) => {
  if (typeof v !== 'boolean') throw new OptionError(`${name} must be true or false`);
  return v;
};
const str: Check = (v, name) => {
  if (typeof v !== 'string' || v === '') throw new OptionError(`${name} must be a non-empty string`);
  return v;
};

const oneOf =
  <T extends string>(...values: T[]): Check =>
  (v, name) => {
    if (typeof v !== 'string' || !values.includes(v as T)) throw new OptionError(`${name} must be ${values.map((x) => `'${x}'`).join(' or ')}`);
    return v;
  };
/** null puts a shape knob back under the `shapes` mode. */
const orNull =
  (check: Check): Check =>
  (v, name) =>
    v === null ? null : check(v, name);

const CHECKS: { [K in Exclude<keyof SimulatorOptions, 'faults' | 'log'>]: Check } = {
  host: str,
  port: num(0, 65535, true),
  apiKeys: (v, name) => {
    if (!Array.isArray(v) || v.length === 0 || v.some((k) => typeof k !== 'string' || k === '')) {
      throw new OptionError(`${name} must be a non-empty array of non-empty strings`);
    }
    return [...(v as string[])];
  },
  publicUrl: (v, name) => {
    if (v === '' || v === null || v === undefined) return '';
    if (typeof v !== 'string' || !/^https?:\/\/[^/]/i.test(v)) throw new OptionError(`${name} must be an http(s) URL`);
    return v.replace(/\/+$/, '');
  },
  renderMs: num(0, 24 * 3600 * 1000),
  maxBodyBytes: num(1, 1024 * 1024 * 1024, true),
  rejectBatchedPoll: bool,
  webhooks: bool,
  shapes: oneOf<ShapesMode>('default', 'alt'),
  webhookWrap: orNull(oneOf<WebhookWrap>('bare', 'data')),
  failureShape: orNull(oneOf<FailureShape>('errors', 'item')),
  progress: orNull(bool),
  maxBatch: orNull(num(0, 10_000, true)),
  batchOverLimit: orNull(oneOf<BatchOverLimit>('refuse', 'partial')),
  duplicateAnswer: orNull((v, name) => {
    if (!isRecord(v)) throw new OptionError(`${name} must be {status, code}`);
    for (const k of Object.keys(v)) if (k !== 'status' && k !== 'code') throw new OptionError(`unknown key ${name}.${k}`);
    return { status: num(400, 599, true)(v.status, `${name}.status`), code: str(v.code, `${name}.code`) };
  }),
  requireInputs: orNull(bool),
  webhookDuplicates: num(0, 10, true),
  webhookBeforeAck: bool,
  webhookRetryDelaysMs: (v, name) => {
    if (!Array.isArray(v) || v.length > 20) throw new OptionError(`${name} must be an array of at most 20 delays`);
    return v.map((d, i) => num(0, 3600 * 1000)(d, `${name}[${i}]`));
  },
  webhookTimeoutMs: num(1, 3600 * 1000),
  retryAfterSeconds: num(0, 86400, true),
  slowMs: num(0, 3600 * 1000),
  randomSeed: num(-(2 ** 31), 2 ** 32, true),
  requestLogLimit: num(0, 1_000_000, true),
};

const FAULT_CHECKS: { [K in keyof FaultOptions]: Check } = {
  latencyMs: num(0, 3600 * 1000),
  rateLimit: num(0, 1),
  serverError: num(0, 1),
  reset: num(0, 1),
  malformed: num(0, 1),
  slow: num(0, 1),
  failedGeneration: num(0, 1),
  mediaStatus: (v, name) => {
    if (v === 0) return 0;
    return num(400, 599, true)(v, name);
  },
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Apply `patch` onto `target` in place, after checking every key; nothing is changed when any key
 * is wrong. `faults` merges field by field. Throws OptionError.
 */
export function applyOptions(target: SimulatorOptions, patch: unknown): void {
  if (!isRecord(patch)) throw new OptionError('options must be an object');
  const next: Record<string, unknown> = {};
  let faults: Partial<Record<keyof FaultOptions, unknown>> | undefined;
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (key === 'faults') {
      if (!isRecord(value)) throw new OptionError('faults must be an object');
      faults = {};
      for (const [fk, fv] of Object.entries(value)) {
        if (!Object.prototype.hasOwnProperty.call(FAULT_CHECKS, fk)) throw new OptionError(`unknown fault: ${fk}`);
        faults[fk as keyof FaultOptions] = FAULT_CHECKS[fk as keyof FaultOptions](fv, `faults.${fk}`);
      }
    } else if (key === 'log') {
      if (typeof value !== 'function') throw new OptionError('log must be a function');
      next.log = value;
    } else if (Object.prototype.hasOwnProperty.call(CHECKS, key)) {
      next[key] = CHECKS[key as keyof typeof CHECKS](value, key);
    } else {
      throw new OptionError(`unknown option: ${key}`);
    }
  }
  Object.assign(target, next);
  if (faults) Object.assign(target.faults, faults);
}

/** The options as shown over HTTP: API keys are never echoed, only counted. */
export function publicOptions(options: SimulatorOptions): Record<string, unknown> {
  const { apiKeys, log: _log, ...rest } = options;
  return { ...rest, faults: { ...options.faults }, apiKeys: `(${apiKeys.length} hidden)` };
}
