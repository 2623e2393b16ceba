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
import { OviError, familyOf } from './errors';
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
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseMs: 500, maxMs: 15000 };
const MAX_RESPONSE_BYTES = 20 * 1024 * 1024;
const MAX_IN_FLIGHT = 16; // = the keep-alive agents' maxSockets
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

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

/** The error of one Runware error item, routed to its family. */
export function errorFromItem(item: RunwareErrorItem, httpStatus?: number, retryAfterMs?: number): OviError {
  const rawCode = typeof item.code === 'string' ? item.code : undefined;
  return new OviError({
    code: familyOf(rawCode, httpStatus),
    rawCode,
    message:
      typeof item.message === 'string' && item.message
        ? item.message
        : (rawCode ?? 'Runware reported an error' + (httpStatus ? ' (HTTP ' + httpStatus + ')' : '')),
    parameter: typeof item.parameter === 'string' || Array.isArray(item.parameter) ? item.parameter : undefined,
    taskUUID: typeof item.taskUUID === 'string' ? item.taskUUID : undefined,
    httpStatus,
    retryAfterMs,
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
  /** Set once Runware refuses a batched getResponse: from then on, one request per task. */
  private batchRefused = false;
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
      transformRequest: [(data: unknown) => stringifyLossless(data)],
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
   * here, cheaply. 10,000 requests handed to axios together would each build a ClientRequest that
   * sits in the agent queue, long-lived garbage that stalls the event loop.
   */
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  private async slot(signal?: AbortSignal): Promise<void> {
    if (this.active < MAX_IN_FLIGHT) {
      this.active++;
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
    });
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
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
    this.stats.requests++;
    let res: AxiosResponse<string>;
    try {
      res = await this.http.post<string>(this.opts.endpoint, tasks, {
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
    const first = env.errors[0] ?? { message: 'Runware answered HTTP ' + status };
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
   * that Runware may have acted on, getResponse tells whether the task exists before we resend it.
   */
  async submit(task: Record<string, unknown> & { taskUUID: string }, signal?: AbortSignal): Promise<ResultItem> {
    const uuid = task.taskUUID;
    let mayExist = false; // some attempt failed after Runware may have accepted the task
    for (let attempt = 0; ; attempt++) {
      try {
        const env = await this.postOnce([task], signal);
        const ack = env.data.find((d) => d.taskUUID === uuid);
        const err = env.errors.find((x) => x.taskUUID === uuid || x.taskUUID === undefined);
        if (err) throw errorFromItem(err, env.httpStatus);
        return ack ?? { taskType: 'videoInference', taskUUID: uuid };
      } catch (e) {
        const err = e as OviError;
        // Our own earlier attempt got through: the task is running, which is what we wanted.
        if (attempt > 0 && err.rawCode === 'duplicateTaskUUID') return { taskType: 'videoInference', taskUUID: uuid };
        if (mayHaveReached(err)) mayExist = true;
        if (!err.retryable || attempt >= this.opts.retry.retries) {
          if (err.retryable && err.code !== 'rateLimit' && err.code !== 'cancelled' && (await this.exists(uuid, signal))) {
            return { taskType: 'videoInference', taskUUID: uuid };
          }
          err.taskUUID = uuid;
          if (mayExist && err.retryable && err.code !== 'cancelled') err.unconfirmed = true;
          throw err;
        }
        if (err.code !== 'rateLimit' && (await this.exists(uuid, signal))) return { taskType: 'videoInference', taskUUID: uuid };
        await this.pause(attempt, err, signal);
      }
    }
  }

  /** Does Runware know this task? false when it could not be told either: the resend then meets duplicateTaskUUID if it did. */
  private async exists(uuid: string, signal?: AbortSignal): Promise<boolean> {
    try {
      const env = await this.postOnce([{ taskType: 'getResponse', taskUUID: uuid }], signal);
      return env.data.some((d) => d.taskUUID === uuid) || env.errors.some((x) => x.taskUUID === uuid && familyOf(x.code) !== 'notFound');
    } catch {
      return false;
    }
  }

  /**
   * getResponse for many tasks: one request carrying all of them, as the API allows. If Runware
   * refuses the batch, fall back to one request per task (as Runware's own SDK does) from then on.
   */
  async getResponses(uuids: string[], signal?: AbortSignal): Promise<Map<string, Envelope>> {
    const out = new Map<string, Envelope>(uuids.map((u) => [u, { data: [], errors: [] }]));
    const collect = (env: Envelope) => {
      for (const d of env.data) out.get(d.taskUUID)?.data.push(d);
      for (const e of env.errors) if (typeof e.taskUUID === 'string') out.get(e.taskUUID)?.errors.push(e);
    };
    if (uuids.length > 1 && !this.batchRefused) {
      try {
        collect(
          await this.post(
            uuids.map((u) => ({ taskType: 'getResponse', taskUUID: u })),
            signal,
          ),
        );
        return out;
      } catch (e) {
        const err = e as OviError & { envelope?: Envelope };
        // Per-task errors (e.g. every task unknown) come back as a 400 with taskUUIDs: that is an answer.
        if (err.envelope && err.envelope.errors.some((x) => typeof x.taskUUID === 'string')) {
          collect(err.envelope);
          return out;
        }
        if (err.code !== 'validation') throw err;
        this.batchRefused = true;
      }
    }
    await Promise.all(
      uuids.map(async (u) => {
        try {
          collect(await this.post([{ taskType: 'getResponse', taskUUID: u }], signal));
        } catch (e) {
          const err = e as OviError & { envelope?: Envelope };
          if (err.envelope) collect(err.envelope);
          else if (uuids.length === 1) throw err;
          else out.get(u)?.errors.push({ code: err.rawCode ?? err.code, message: err.message, taskUUID: u, transient: err.retryable });
        }
      }),
    );
    return out;
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
