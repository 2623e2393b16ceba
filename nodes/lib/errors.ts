/**
 * One typed error for everything that can go wrong with a task, routable by `code` (a closed list of
 * families, modelled on Runware's own SDK) while keeping Runware's raw code for searching.
 */

export const ERROR_CODES = [
  'validation', // bad input: fix the msg or node; never sent, or refused by Runware
  'auth', // missing or wrong API key
  'quota', // credits, balance or our own budget cap
  'rateLimit', // 429: slow down
  'safety', // content policy
  'provider', // the generation itself failed on Runware's side
  'timeout', // a request or the overall deadline ran out
  'network', // connection refused, reset, DNS
  'notFound', // Runware does not know the task (any more)
  'serverError', // 5xx
  'protocol', // an answer we cannot parse (malformed JSON, unexpected shape)
  'download', // fetching or writing the result media failed
  'cancelled', // the node was closed or redeployed before the request finished
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['rateLimit', 'provider', 'timeout', 'network', 'serverError', 'protocol', 'download']);

export interface OviErrorInit {
  code: ErrorCode;
  message: string;
  rawCode?: string;
  parameter?: string | string[];
  taskUUID?: string;
  httpStatus?: number;
  retryable?: boolean;
  retryAfterMs?: number;
}

export class OviError extends Error {
  readonly code: ErrorCode;
  readonly rawCode?: string;
  readonly parameter?: string | string[];
  taskUUID?: string;
  readonly httpStatus?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  /** A submit failed after an attempt that Runware may have acted on (lost answer): the task may exist. */
  unconfirmed?: boolean;

  constructor(init: OviErrorInit) {
    super(init.message);
    this.name = 'OviError';
    this.code = init.code;
    this.rawCode = init.rawCode;
    this.parameter = init.parameter;
    this.taskUUID = init.taskUUID;
    this.httpStatus = init.httpStatus;
    this.retryable = init.retryable ?? RETRYABLE.has(init.code);
    this.retryAfterMs = init.retryAfterMs;
    // An own property (Node-RED checks hasOwnProperty) that stays current as taskUUID is filled in.
    Object.defineProperty(this, 'cause', { get: () => this.toJSON(), enumerable: false, configurable: true });
  }

  /**
   * Node-RED builds a Catch node's msg.error from err.toString(), err.code and err.cause only:
   * the bare message reads better there than "OviError: ...", and the details ride on cause.
   */
  override toString(): string {
    return this.message;
  }

  /** What goes on `msg.error`: plain data, no stack, no secrets. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.rawCode !== undefined) out.rawCode = this.rawCode;
    if (this.parameter !== undefined) out.parameter = this.parameter;
    if (this.taskUUID !== undefined) out.taskUUID = this.taskUUID;
    if (this.httpStatus !== undefined) out.httpStatus = this.httpStatus;
    return out;
  }
}

/** Runware's raw error codes are many and unstable: route them by family, as Runware's SDK does. */
export function familyOf(rawCode: string | undefined, httpStatus?: number): ErrorCode {
  const c = (rawCode ?? '').toLowerCase();
  if (c) {
    if (/credit|quota|balance|budget/.test(c)) return 'quota';
    if (c.includes('ratelimit') || c === 'toomanyrequests') return 'rateLimit';
    if (/contentpolicy|nsfw|promptblocked|moderation|safety/.test(c)) return 'safety';
    if (/apikey|unauthori[sz]ed|forbidden|^token|authentication/.test(c)) return 'auth';
    if (c.includes('timeout')) return 'timeout';
    if (/notfound|expired/.test(c)) return 'notFound';
    if (c === 'internalservererror' || c === 'serviceunavailable') return 'serverError';
    if (/inferenceerror|taskfailed|noavailableserver|modelunavailable|^provider/.test(c)) return 'provider';
    if (/^(invalid|missing|duplicate|unsupported|value|max|min)|unknownparameter/.test(c)) return 'validation';
  }
  if (httpStatus === 401 || httpStatus === 403) return 'auth';
  if (httpStatus === 402) return 'quota';
  if (httpStatus === 429) return 'rateLimit';
  if (httpStatus === 408 || httpStatus === 504) return 'timeout';
  if (httpStatus !== undefined && httpStatus >= 500) return 'serverError';
  if (httpStatus !== undefined && httpStatus >= 400) return 'validation';
  return 'provider';
}

export function isOviError(e: unknown): e is OviError {
  return e instanceof OviError;
}

/** Never let a credential reach a message: mask anything that looks like the given secrets. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}
