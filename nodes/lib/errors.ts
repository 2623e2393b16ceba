/**
 * One typed error for everything that can go wrong with a task, routable by `code` (a closed list of
 * families, modelled on Runware's own SDK) while keeping Runware's raw code and details for searching.
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
  'download', // fetching or writing the result media failed, or was refused
  'cancelled', // the node was closed or redeployed before the request finished
  'unclaimed', // results arrived but no node of the flow can emit them (nothing claimed the task)
  'internal', // a bug in this package: the stack is in the log
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const RETRYABLE: ReadonlySet<ErrorCode> = new Set(['rateLimit', 'provider', 'timeout', 'network', 'serverError', 'protocol', 'download']);

/** Runware's own error details worth keeping for the user (they explain a refusal). */
export const DETAIL_KEYS = ['type', 'documentation', 'allowedValues', 'min', 'max', 'responseContent', 'taskType'] as const;

export interface OviErrorInit {
  code: ErrorCode;
  message: string;
  rawCode?: string;
  parameter?: string | string[];
  taskUUID?: string;
  httpStatus?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  /** Runware's extra fields (documentation, allowedValues, min, max, type, ...), JSON-safe. */
  details?: Record<string, unknown>;
}

export class OviError extends Error {
  readonly code: ErrorCode;
  readonly rawCode?: string;
  readonly parameter?: string | string[];
  taskUUID?: string;
  readonly httpStatus?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly details?: Record<string, unknown>;
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
    if (init.details && Object.keys(init.details).length > 0) this.details = init.details;
    // An own property (Node-RED checks hasOwnProperty) that stays current as taskUUID is filled in.
    // Node-RED's debug sidebar prints `cause + ""`: the object says something readable then.
    Object.defineProperty(this, 'cause', { get: () => readable(this.toJSON()), enumerable: false, configurable: true });
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
    if (this.details) for (const [k, v] of Object.entries(this.details)) if (!(k in out)) out[k] = v;
    return out;
  }
}

/** The cause object with a non-enumerable toString: JSON keeps the data, string contexts get a summary. */
function readable(data: Record<string, unknown>): Record<string, unknown> {
  const summary = [data.code, data.rawCode, data.parameter, data.taskUUID].filter((v) => v !== undefined).join(' · ');
  Object.defineProperty(data, 'toString', { value: () => summary, enumerable: false });
  return data;
}

/** Runware's raw error codes are many and unstable: route them by family, as Runware's SDKs do. */
export function familyOf(rawCode: string | undefined, httpStatus?: number): ErrorCode {
  const c = (rawCode ?? '').toLowerCase();
  if (c) {
    if (/credit|quota|balance|budget|paymentrequired/.test(c)) return 'quota';
    if (c.includes('ratelimit') || c === 'toomanyrequests') return 'rateLimit';
    if (/contentpolicy|nsfw|promptblocked|imageblocked|moderation|safety|sensitivecontent|unsafecontent/.test(c)) return 'safety';
    if (/apikey|unauthori[sz]ed|forbidden|^token|authentication/.test(c)) return 'auth';
    if (c.includes('timeout')) return 'timeout';
    if (/notfound|expired|^taskcancelled$|^unknownmodel$/.test(c)) return 'notFound';
    if (c === 'internalservererror' || c === 'serviceunavailable') return 'serverError';
    if (/inferenceerror|taskfailed|processingfailed|noavailableserver|modelunavailable|^provider/.test(c)) return 'provider';
    if (/^(invalid|missing|duplicate|unsupported|conflict|incompatible|value|max|min)|unknownparameter/.test(c)) return 'validation';
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

/**
 * Anything thrown, as an OviError. An exception that is not ours is a bug in this package: code
 * `internal`, a short message that asks for a report (the stack goes to the log, see logInternal).
 */
export function asOviError(e: unknown, where: string): OviError {
  if (e instanceof OviError) return e;
  const text = e instanceof Error ? e.message : String(e);
  return new OviError({
    code: 'internal',
    message: 'internal error in ' + where + ' (please report it, with the stack from the Node-RED log): ' + text.slice(0, 200),
    retryable: false,
  });
}

/** The stack of an unexpected exception, for the log only (never a msg). */
export function stackOf(e: unknown): string {
  return e instanceof Error && typeof e.stack === 'string' ? e.stack : String(e);
}

/** Never let a credential reach a message: mask anything that looks like the given secrets. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}

/**
 * Status text under a node: short, and never cut in the middle of a word or number (a rule like
 * "between 0 and 10" must not read "between 0 and 1"). Cut at a word with an ellipsis.
 */
export function shortText(text: string, max = 48): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max - 1);
  const at = cut.lastIndexOf(' ');
  return (at > max / 3 ? cut.slice(0, at) : cut.replace(/[\w.-]+$/, '')).replace(/[\s,;:(]+$/, '') + '…';
}
