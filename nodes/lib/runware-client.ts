/**
 * The Runware REST client: one POST of a task array, the {data, errors} envelope, typed errors,
 * retries with exponential backoff + full jitter honouring Retry-After, keep-alive sockets.
 *
 * Paying twice is the failure we design against: a submit is retried with the SAME taskUUID, and a
 * failure that may have happened after Runware accepted the task (reset, timeout, 5xx, garbled body)
 * is settled by asking getResponse before sending the task again.
 */
import axios, { AxiosInstance, AxiosResponse } from 'axios';
import * as http from 'http';
import * as https from 'https';
import { DETAIL_KEYS, OviError, familyOf } from './errors';
import { parseLossless, stringifyLossless } from './lossless-json';

export interface RunwareErrorItem {
  code?: string;
  message?: string;
  parameter?: string | string[];
  taskUUID?: string;
  taskType?: string;
  [k: string]: unknown;
}

export interface ResultItem {
  taskType?: string;
  taskUUID: string;
  status?: string;
  videoUUID?: string;
  videoURL?: string;
  seed?: number | string;
  cost?: number;
  progress?: number;
  [k: string]: unknown;
}

export interface Envelope {
  data: ResultItem[];
  errors: RunwareErrorItem[];
}

export interface RetryPolicy {
  retries: number; // extra attempts after the first
  baseMs: number;
  maxMs: number;
}

export interface ClientOptions {
  endpoint: string;
  apiKey: () => string | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Called before each retry (for status and logs): never given the key. */
  onRetry?: (info: { attempt: number; delayMs: number; error: OviError }) => void;
  /** A line for the log about how Runware behaves (e.g. a smaller batch size learned); never a secret. */
  onNote?: (text: string) => void;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseMs: 500, maxMs: 15000 };
const MAX_RESPONSE_BYTES = 20 * 1024 * 1024;
const MAX_IN_FLIGHT = 16; // = the keep-alive agents' maxSockets
const STARTS_PER_TURN = 4;
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** getResponse tasks per request at most, until Runware teaches a smaller number. */
export const MAX_BATCH = 200;

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function cancelled(): OviError {
  return new OviError({ code: 'cancelled', message: 'the request was cancelled (node closed or redeployed)', retryable: false });
}

export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs) && secs >= 0) return Math.min(secs * 1000, 10 * 60 * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, Math.min(date - now, 10 * 60 * 1000)) : undefined;
}

export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfterMs?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  const jittered = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  return retryAfterMs !== undefined ? Math.max(retryAfterMs, Math.min(jittered, policy.baseMs)) : jittered;
}

/** Runware's extra fields worth keeping on msg.error.cause (documentation, allowedValues, min, max, ...). */
function detailsOf(item: RunwareErrorItem): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of DETAIL_KEYS) {
    const v = item[k];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') out[k] = v.slice(0, 2000);
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.slice(0, 50).filter((x) => ['string', 'number', 'boolean'].includes(typeof x));
  }
  return out;
}

/** Runware's generated schema marks inputs required for Ovi although its page offers text-to-video. */
function isMissingImage(rawCode: string | undefined, parameter: unknown, message: string): boolean {
  const params = (Array.isArray(parameter) ? parameter : [parameter]).filter((p): p is string => typeof p === 'string');
  if (params.some((p) => /^inputs(\.image)?$/i.test(p)) && /^(missing|invalid|required)/i.test(rawCode ?? 'missing')) return true;
  return /missing.*(inputs|image)/i.test(rawCode ?? '') || /(inputs|inputs\.image|image)['"]? (is )?required/i.test(message);
}

/** The error of one Runware error item, routed to its family; its details kept. */
export function errorFromItem(item: RunwareErrorItem, httpStatus?: number, retryAfterMs?: number): OviError {
  const rawCode = typeof item.code === 'string' ? item.code.slice(0, 200) : undefined;
  const given = typeof item.message === 'string' && item.message ? item.message.slice(0, 2000) : undefined;
  let message = given ?? rawCode ?? 'Runware reported an error' + (httpStatus ? ' (HTTP ' + httpStatus + ')' : '');
  const parameter =
    typeof item.parameter === 'string'
      ? item.parameter.slice(0, 200)
      : Array.isArray(item.parameter)
        ? item.parameter.filter((p): p is string => typeof p === 'string').slice(0, 20)
        : undefined;
  const code = familyOf(rawCode, httpStatus);
  const details = detailsOf(item);
  if (code === 'auth') {
    // Runware's own words address API clients ("pass it as Authorization: Bearer ..."): say what to do here.
    if (given) details.runwareMessage = given;
    message = 'Runware refused the API key' + (rawCode ? ' (' + rawCode + ')' : '') + ': check the key in the ovi-config node, or RUNWARE_API_KEY';
  } else if (code === 'validation' && isMissingImage(rawCode, item.parameter, message)) {
    message =
      "Runware requires a start image for this model (inputs.image): text-to-video was refused. Send an image (msg.image or the node's Start image). Runware said: " +
      message;
  }
  return new OviError({
    code,
    rawCode,
    message,
    parameter,
    taskUUID: typeof item.taskUUID === 'string' ? item.taskUUID : undefined,
    httpStatus,
    retryAfterMs,
    details,
  });
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Read any of Runware's envelope shapes: {data, errors}, {error: {...}, taskUUID}, or a bare item. */
export function readEnvelope(body: unknown): Envelope {
  if (!isObj(body)) throw new OviError({ code: 'protocol', message: 'Runware answered with JSON that is not an object' });
  const data = asArray(body.data).filter((d): d is ResultItem => isObj(d) && typeof d.taskUUID === 'string');
  const errors = asArray(body.errors).filter(isObj) as RunwareErrorItem[];
  if (isObj(body.error)) {
    const e = body.error as RunwareErrorItem;
    errors.push({ ...e, taskUUID: e.taskUUID ?? (typeof body.taskUUID === 'string' ? body.taskUUID : undefined) });
  }
  return { data, errors };
}

export class RunwareClient {
  private readonly http: AxiosInstance;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT });
  readonly stats = { requests: 0, retries: 0 };

  constructor(private readonly opts: ClientOptions) {
    this.http = axios.create({
      timeout: opts.timeoutMs,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      maxContentLength: MAX_RESPONSE_BYTES,
      maxBodyLength: MAX_REQUEST_BYTES,
      maxRedirects: 0,
      responseType: 'text',
      transformRequest: [(data: unknown) => data], // serialised (losslessly) by exchange()
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      proxy: false,
    });
  }

  get endpoint(): string {
    return this.opts.endpoint;
  }

  /**
   * At most MAX_IN_FLIGHT requests reach axios at once (the agent's socket count); the rest wait
   * here, cheaply. And at most STARTS_PER_TURN requests start per turn of the event loop: building an
   * axios request costs about a millisecond, and a burst (thousands of submits released by one journal
   * write, or sixteen answers arriving together) would otherwise start them all in one turn and hold
   * timers back for tens of milliseconds.
   */
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private startedThisTurn = 0;
  private turnScheduled = false;

  private async slot(signal?: AbortSignal): Promise<void> {
    if (this.active < MAX_IN_FLIGHT && this.waiting.length === 0 && this.startedThisTurn < STARTS_PER_TURN) {
      this.take();
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const start = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(start);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(cancelled());
      };
      if (signal?.aborted) return reject(cancelled());
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(start);
      this.nextTurn();
    });
  }

  /** A slot is taken (counted now, so two starts in one turn cannot overbook). */
  private take(): void {
    this.active++;
    this.startedThisTurn++;
    this.nextTurn();
  }

  /** Start waiting requests in the next turn of the event loop, a few per turn. */
  private nextTurn(): void {
    if (this.turnScheduled) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      this.startedThisTurn = 0;
      while (this.waiting.length > 0 && this.active < MAX_IN_FLIGHT && this.startedThisTurn < STARTS_PER_TURN) {
        this.take();
        (this.waiting.shift() as () => void)();
      }
      if (this.waiting.length > 0 && this.active < MAX_IN_FLIGHT) this.nextTurn();
    });
  }

  private release(): void {
    this.active--;
    if (this.waiting.length > 0) this.nextTurn();
  }

  /** One HTTP exchange, no retries. Every failure becomes an OviError (never an axios error, whose config holds the key). */
  async postOnce(tasks: unknown[], signal?: AbortSignal): Promise<Envelope & { httpStatus: number }> {
    await this.slot(signal);
    try {
      return await this.exchange(tasks, signal);
    } finally {
      this.release();
    }
  }

  private async exchange(tasks: unknown[], signal?: AbortSignal): Promise<Envelope & { httpStatus: number }> {
    const key = this.opts.apiKey();
    if (!key)
      throw new OviError({
        code: 'auth',
        message: 'no Runware API key: set it in the ovi-config node or in the RUNWARE_API_KEY environment variable',
        retryable: false,
      });
    const payload = stringifyLossless(tasks);
    if (Buffer.byteLength(payload) > MAX_REQUEST_BYTES) {
      // Refused here, before anything left: the task certainly did not reach Runware.
      throw new OviError({
        code: 'validation',
        rawCode: 'requestTooLarge',
        message:
          'the request would be ' +
          Math.round(Buffer.byteLength(payload) / 1048576) +
          ' MiB, more than the ' +
          MAX_REQUEST_BYTES / 1048576 +
          ' MiB allowed (a smaller image?)',
        retryable: false,
      });
    }
    this.stats.requests++;
    let res: AxiosResponse<string>;
    try {
      res = await this.http.post<string>(this.opts.endpoint, payload, {
        headers: { Authorization: 'Bearer ' + key, 'Content-Type': 'application/json', Accept: 'application/json' },
        signal,
      });
    } catch (e) {
      throw transportError(e, signal);
    }
    const status = res.status;
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    let body: unknown;
    try {
      body = typeof res.data === 'string' && res.data.length > 0 ? parseLossless(res.data) : undefined;
    } catch {
      body = undefined;
    }
    if (body === undefined) {
      if (status >= 200 && status < 300)
        throw new OviError({ code: 'protocol', message: 'Runware answered HTTP ' + status + ' with a body that is not JSON', httpStatus: status });
      throw new OviError({
        code: familyOf(undefined, status),
        message: 'Runware answered HTTP ' + status,
        httpStatus: status,
        retryAfterMs,
        retryable: isRetryableStatus(status),
      });
    }
    const env = readEnvelope(body);
    if (status >= 200 && status < 300) return { ...env, httpStatus: status };
    const failedItem = env.data.find((d) => d.error !== null && typeof d.error === 'object');
    const first = env.errors[0] ?? (failedItem ? { ...failedItem, ...(failedItem.error as RunwareErrorItem) } : { message: 'Runware answered HTTP ' + status });
    const err = errorFromItem(first, status, retryAfterMs);
    if (isRetryableStatus(status) && !err.retryable) {
      // 429/5xx are transient whatever code the body names.
      throw new OviError({
        code: status === 429 ? 'rateLimit' : 'serverError',
        rawCode: err.rawCode,
        message: err.message,
        parameter: err.parameter,
        taskUUID: err.taskUUID,
        httpStatus: status,
        retryAfterMs,
        retryable: true,
      });
    }
    (err as { envelope?: Envelope }).envelope = env;
    throw err;
  }

  /** postOnce with retries on retryable failures. Only safe for idempotent requests (getResponse). */
  async post(tasks: unknown[], signal?: AbortSignal): Promise<Envelope> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.postOnce(tasks, signal);
      } catch (e) {
        const err = e as OviError;
        if (!err.retryable || attempt >= this.opts.retry.retries) throw err;
        await this.pause(attempt, err, signal);
      }
    }
  }

  private async pause(attempt: number, err: OviError, signal?: AbortSignal): Promise<void> {
    const delayMs = backoffDelay(attempt, this.opts.retry, err.retryAfterMs);
    this.stats.retries++;
    this.opts.onRetry?.({ attempt: attempt + 1, delayMs, error: err });
    await sleep(delayMs, signal);
  }

  /**
   * Submit one async task and return its acknowledgment. Retries keep the taskUUID; after a failure
   * that Runware may have acted on, getResponse tells whether the task exists before we send it again.
   * Nothing here depends on the code Runware gives a reused taskUUID (no public source names it): a
   * resend that is refused, for whatever reason, after an attempt that may have arrived is thrown as
   * `unconfirmed`, and the caller keeps the job and polls it rather than dropping a task that may run.
   */
  async submit(task: Record<string, unknown> & { taskUUID: string }, signal?: AbortSignal, opts: { mayExist?: boolean } = {}): Promise<ResultItem> {
    const uuid = task.taskUUID;
    let mayExist = opts.mayExist === true; // some attempt (maybe before a restart) may have reached Runware
    if (mayExist && (await this.exists(uuid, signal))) return { taskType: 'videoInference', taskUUID: uuid };
    for (let attempt = 0; ; attempt++) {
      try {
        const env = await this.postOnce([task], signal);
        const failed = env.data.find((d) => d.taskUUID === uuid && d.error !== null && typeof d.error === 'object');
        const err = env.errors.find((x) => x.taskUUID === uuid || x.taskUUID === undefined);
        if (err || failed) throw errorFromItem(err ?? { ...(failed as ResultItem), ...((failed as ResultItem).error as RunwareErrorItem) }, env.httpStatus);
        return env.data.find((d) => d.taskUUID === uuid) ?? { taskType: 'videoInference', taskUUID: uuid };
      } catch (e) {
        const err = e as OviError;
        err.taskUUID = uuid;
        if (err.code === 'cancelled') throw err;
        if (mayHaveReached(err)) mayExist = true;
        if (!err.retryable) {
          // Refused. If an earlier attempt may have got through, this may be Runware refusing our own
          // duplicate (under a code nobody documents): does the task exist?
          if (mayExist && err.rawCode !== 'requestTooLarge') {
            if (await this.exists(uuid, signal)) return { taskType: 'videoInference', taskUUID: uuid };
            err.unconfirmed = true;
          }
          throw err;
        }
        if (attempt >= this.opts.retry.retries) {
          if (err.code !== 'rateLimit' && (await this.exists(uuid, signal))) return { taskType: 'videoInference', taskUUID: uuid };
          if (mayExist) err.unconfirmed = true;
          throw err;
        }
        if (err.code !== 'rateLimit' && (await this.exists(uuid, signal))) return { taskType: 'videoInference', taskUUID: uuid };
        await this.pause(attempt, err, signal);
      }
    }
  }

  /** Does Runware know this task? false when it could not be told either (the caller then decides). */
  private async exists(uuid: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const env = await this.postOnce([{ taskType: 'getResponse', taskUUID: uuid }], signal);
      return env.data.some((d) => d.taskUUID === uuid) || env.errors.some((x) => x.taskUUID === uuid && familyOf(x.code) !== 'notFound');
    } catch (e) {
      const err = e as OviError & { envelope?: Envelope };
      // A 4xx naming the task with a code other than "not found" is also an answer about an existing task.
      return !!err.envelope?.errors.some((x) => x.taskUUID === uuid && familyOf(x.code) !== 'notFound' && familyOf(x.code) !== 'validation');
    }
  }

  /** How many getResponse tasks one request may carry; lowered when Runware refuses or cuts a batch. */
  private batchSize = MAX_BATCH;
  private lastBatchNote = 0;

  get pollBatchSize(): number {
    return this.batchSize;
  }

  /**
   * getResponse for many tasks, batched as the API allows (Runware's own SDKs send one UUID per
   * request; batching is our optimisation and must survive reality). A batch refused (4xx without
   * taskUUIDs) or answered in part teaches a smaller batch size, and what it did not answer is asked
   * again one UUID per request; a 5xx or timeout for a whole batch falls back the same way this
   * tick. Every uuid of the answer map gets an envelope; a task that could not be asked carries a
   * `transient` error (poll again later), never a verdict.
   */
  async getResponses(uuids: string[], signal?: AbortSignal): Promise<Map<string, Envelope>> {
    const out = new Map<string, Envelope>(uuids.map((u) => [u, { data: [], errors: [] }]));
    const answered = new Set<string>();
    const collect = (env: Envelope, asked: string[]) => {
      for (const d of env.data) {
        if (!out.has(d.taskUUID)) continue;
        (out.get(d.taskUUID) as Envelope).data.push(d);
        answered.add(d.taskUUID);
      }
      for (const e of env.errors) {
        const target = typeof e.taskUUID === 'string' ? e.taskUUID : asked.length === 1 ? asked[0] : undefined;
        if (target && out.has(target)) {
          (out.get(target) as Envelope).errors.push({ ...e, taskUUID: target });
          answered.add(target);
        }
      }
    };
    const single: string[] = [];
    if (uuids.length === 1) single.push(uuids[0]);
    else {
      for (let i = 0; i < uuids.length; i += this.batchSize) {
        const chunk = uuids.slice(i, i + this.batchSize);
        if (chunk.length === 1) {
          single.push(chunk[0]);
          continue;
        }
        try {
          const env = await this.post(
            chunk.map((u) => ({ taskType: 'getResponse', taskUUID: u })),
            signal,
          );
          collect(env, chunk);
          const missing = chunk.filter((u) => !answered.has(u));
          if (missing.length > 0) {
            // Answered in part: remember how many it did answer, ask the rest one by one.
            const got = chunk.length - missing.length;
            if (got > 0 && got < this.batchSize) this.learn(got, 'answered ' + got + ' of ' + chunk.length);
            single.push(...missing);
          }
        } catch (e) {
          const err = e as OviError & { envelope?: Envelope };
          if (err.code === 'cancelled' || err.code === 'auth' || err.code === 'quota') throw err;
          if (err.envelope && err.envelope.errors.some((x) => typeof x.taskUUID === 'string')) {
            // Per-task errors (e.g. every task unknown) in a 4xx are an answer.
            collect(err.envelope, chunk);
            single.push(...chunk.filter((u) => !answered.has(u)));
          } else {
            if (!err.retryable) this.learn(Math.max(1, Math.floor(chunk.length / 2)), 'refused a batch of ' + chunk.length);
            single.push(...chunk);
          }
        }
      }
    }
    await Promise.all(
      single.map(async (u) => {
        try {
          collect(await this.post([{ taskType: 'getResponse', taskUUID: u }], signal), [u]);
        } catch (e) {
          const err = e as OviError & { envelope?: Envelope };
          if (err.code === 'cancelled') throw err;
          if (err.envelope && (err.envelope.errors.length > 0 || err.envelope.data.length > 0)) collect(err.envelope, [u]);
          else if (uuids.length === 1) throw err;
          else if (!err.retryable && (err.code === 'auth' || err.code === 'quota')) throw err;
          else (out.get(u) as Envelope).errors.push({ code: err.rawCode ?? err.code, message: err.message, taskUUID: u, transient: true });
        }
      }),
    );
    return out;
  }

  private learn(size: number, why: string): void {
    if (size >= this.batchSize) return;
    this.batchSize = size;
    const now = Date.now();
    if (now - this.lastBatchNote > 60_000) {
      this.lastBatchNote = now;
      this.opts.onNote?.('Runware ' + why + ' getResponse tasks: polling in batches of ' + size + ' from now on');
    }
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The request went out and no verdict came back (lost or cut answer, timeout): Runware may have acted on it. */
function mayHaveReached(err: OviError): boolean {
  if (err.code === 'timeout' || err.code === 'protocol') return true;
  return err.code === 'network' && !/^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)$/.test(err.rawCode ?? '');
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function transportError(e: unknown, signal?: AbortSignal): OviError {
  if (signal?.aborted || axios.isCancel(e)) return cancelled();
  const code = (e as { code?: string }).code;
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT')
    return new OviError({ code: 'timeout', rawCode: code, message: 'Runware did not answer within the request timeout' });
  if (code === 'ERR_FR_MAX_BODY_LENGTH_EXCEEDED' || code === 'ERR_BAD_RESPONSE')
    return new OviError({ code: 'protocol', rawCode: code, message: 'Runware sent a response we could not read' });
  const msg = e instanceof Error ? e.message : String(e);
  // Only the message of the cause: an axios error also carries the request config, headers and all.
  return new OviError({ code: 'network', rawCode: code, message: 'cannot reach Runware: ' + msg.replace(/Bearer\s+\S+/g, 'Bearer ***') });
}
