/**
 * Runware simulator: an HTTP server that plays Runware's REST API for the Ovi video model
 * (runware:190@1), for our tests, for `npm start` without an API key, and for users building flows
 * offline (`npx ovi-simulator`). Only node built-ins.
 *
 * Routes
 *   POST /v1 (or /)        the API: a JSON array of tasks, `Authorization: Bearer <key>`
 *                          videoInference (async only) → ack; getResponse → results so far
 *   GET|HEAD /media/<videoUUID>.<mp4|webm|mov>   the clip (Range supported, no auth)
 *   GET|HEAD /samples/snapshot.jpg   a fixed 320x240 JPEG "camera snapshot" (media/snapshot.jpg), for
 *                          image-to-video flows offline (the examples' CAMERA_URL); no auth, never faulted
 *   GET /health            {"ok":true}
 *   /__sim/...             control, no auth (bind to loopback!): GET stats, GET requests,
 *                          DELETE requests, GET deliveries, GET|POST config (JSON merge),
 *                          POST reset, POST faults {"queue":["429","reset"],"media":{"count":2,"status":502}},
 *                          POST answers {"answers":[{"status":200,"body":{...},"process":true}]}
 *
 * Behaviour (the unconfirmed choices live in shapes.ts; README.md tables their sources)
 *   - Generation i of a job finishes at accept + renderMs * (1 + 0.25 i), as a success or, when a
 *     marker or fault says so, a failure. getResponse answers are cumulative: every finished
 *     generation, plus one {"status":"processing"} placeholder (with progress only when the
 *     `progress` knob is on) while any is pending.
 *   - A failed generation is an errors[] entry {code, message, taskUUID, taskType, status:"error"}
 *     inside the 200 (failureShape 'errors'), or a data[] item {status:"error", error:{code, message}}
 *     (failureShape 'item').
 *   - Seeds: the task's seed + i (exact up to 2^63-1, then wrapping to 0), else random uint32s.
 *   - cost: 0.0437 USD per successful result, only with includeCost.
 *   - Prompt markers: "[sim:fail]" / "[sim:safety]" fail every generation (inferenceError /
 *     contentPolicyViolation); "[sim:fail:I]" / "[sim:safety:I]" fail generation I only.
 *   - Jobs and their media stay retrievable for the life of the process (until reset); ttl is checked
 *     but not enforced.
 *   - Webhooks: one POST per finished generation ({"data":[item]} by default; see webhooks.ts);
 *     uploadEndpoint: one PUT of the clip's bytes per successful generation. Both redelivered on
 *     non-2xx / network error after webhookRetryDelaysMs, then given up.
 *   - A taskUUID accepted once is refused afterwards (duplicateAnswer, default 400
 *     duplicateTaskUUID): retries never start a second job.
 *   - maxBatch / batchOverLimit bound the getResponse tasks of one request.
 *
 * Knobs (SimulatorOptions; defaults in options.ts and shapes.ts): host, port, apiKeys, publicUrl,
 *   renderMs, maxBodyBytes, rejectBatchedPoll, webhooks, shapes, webhookWrap, failureShape, progress,
 *   maxBatch, batchOverLimit, duplicateAnswer, requireInputs, webhookDuplicates, webhookBeforeAck,
 *   webhookRetryDelaysMs, webhookTimeoutMs, retryAfterSeconds, slowMs, randomSeed, requestLogLimit, log,
 *   faults: { latencyMs, rateLimit, serverError, reset, malformed, slow, failedGeneration, mediaStatus }.
 *   Random faults are drawn per API request from a PRNG seeded with randomSeed; sim.queueFaults([...])
 *   scripts the next requests' faults first, and sim.queueAnswers([...]) their exact answers before
 *   that. Media, admin and /health are never faulted (except media by failMedia / faults.mediaStatus).
 */
import { createHash, timingSafeEqual } from 'crypto';
import { readFileSync } from 'fs';
import * as http from 'http';
import { join as joinPath } from 'path';
import type { AddressInfo, Socket } from 'net';
import { stringifyLossless } from '../nodes/lib/lossless-json';
import { AnswerQueue, answerBody } from './answers';
import { parseTasks, processApiBody, type ApiResult, type ApiState } from './api';
import { FaultInjector, truncateJson, type QueuedFaultName } from './faults';
import { isServable, type Job, type JobResult } from './jobs';
import { loadFixtures, MEDIA_TYPES, sendMedia } from './media';
import { applyOptions, defaultOptions, OptionError, publicOptions, type SimulatorInit, type SimulatorOptions } from './options';
import type { Envelope, ErrorEntry } from './protocol';
import { resolveShapes } from './shapes';
import { createStats, type SimulatorStats } from './stats';
import { TimerSet } from './timers';
import { Deliveries, type DeliveryLogEntry } from './webhooks';
import type { ScriptedAnswer } from './answers';
import type { Shapes } from './shapes';

export type { BatchOverLimit, DuplicateAnswer, FailureShape, FaultOptions, ShapesMode, SimulatorInit, SimulatorOptions, WebhookWrap } from './options';
export type { Shapes } from './shapes';
export { ALT_SHAPES, DEFAULT_SHAPES } from './shapes';
export type { ScriptedAnswer } from './answers';
export type { FaultKind, QueuedFaultName } from './faults';
export type { SimulatorStats, DeliveryCounters } from './stats';
export type { DeliveryLogEntry } from './webhooks';
export type { AckItem, DataItem, Envelope, ErrorEntry, ErrorItem, ProcessingItem, SuccessItem } from './protocol';
export { COST_PER_RESULT, FAIL_MARKER, PROVIDER_FAILURE, SAFETY_FAILURE, SAFETY_MARKER } from './jobs';

export interface RequestLogEntry {
  at: number;
  method: string;
  path: string;
  /** HTTP status sent; 0 while pending or when the response was deliberately lost (reset). */
  status: number;
  /** The raw body (first 16 KiB; API keys redacted). */
  bodyText: string;
  /** The parsed tasks (long strings shortened, apiKey fields redacted); [] if unparsable. */
  tasks: unknown[];
  /** The injected fault, if any. */
  fault?: string;
}

export interface Simulator {
  /** The API endpoint, http://host:port/v1 */
  readonly url: string;
  /** http://host:port */
  readonly baseUrl: string;
  readonly port: number;
  /** The live options (mutate through configure()). */
  readonly options: SimulatorOptions;
  configure(patch: SimulatorInit): SimulatorOptions;
  /** The next API requests get these faults, in order, before any random one. */
  queueFaults(faults: readonly (QueuedFaultName | string)[]): void;
  /**
   * The next API requests (after auth) get exactly these answers, in order, before any fault; their
   * tasks are not processed unless `process: true`. A body may be a function of the parsed tasks.
   */
  queueAnswers(answers: readonly ScriptedAnswer[]): void;
  /** The unconfirmed choices in force (the `shapes` mode with individual overrides applied). */
  shapes(): Shapes;
  /** The next `count` media requests answer `status` (default 502). */
  failMedia(count: number, status?: number): void;
  stats(): SimulatorStats;
  requests(): RequestLogEntry[];
  clearRequests(): void;
  deliveries(): DeliveryLogEntry[];
  /** Forget jobs, counters, logs, queued faults and pending deliveries; reseed the PRNG. */
  reset(): void;
  /** Stop listening, drop open connections, cancel every timer. */
  close(): Promise<void>;
}

const BODY_LOG_LIMIT = 16 * 1024;
const ADMIN_BODY_LIMIT = 1024 * 1024;
const DELIVERY_LOG_LIMIT = 5000;
const JSON_TYPE = 'application/json; charset=utf-8';

function sendText(res: http.ServerResponse, status: number, text: string, headers: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers?: http.OutgoingHttpHeaders): void {
  sendText(res, status, stringifyLossless(body), headers);
}

function errorBody(code: string, message: string, type?: string): Envelope {
  const entry: ErrorEntry = { code, message };
  if (type) entry.type = type;
  return { errors: [entry] };
}

type Body = { text: string; tooLarge: boolean; aborted: boolean };

/** Read the body up to `limit` bytes; past it, stop keeping data and report tooLarge at once. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve({ text: '', tooLarge: true, aborted: false });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (body: Body) => {
      if (!settled) {
        settled = true;
        resolve(body);
      }
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle({ text: '', tooLarge: true, aborted: false });
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => settle({ text: Buffer.concat(chunks).toString('utf8'), tooLarge: false, aborted: false }));
    req.on('error', () => settle({ text: '', tooLarge: false, aborted: true }));
    req.on('close', () => settle({ text: Buffer.concat(chunks).toString('utf8'), tooLarge: false, aborted: !req.complete }));
  });
}

/** A bounded, key-free copy of parsed tasks for the request log. */
function forLog(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.length > 1024 ? value.slice(0, 1024) + '…' : value;
  if (typeof value !== 'object' || value === null) return value;
  if (depth > 6) return '[…]';
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => forLog(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = k === 'apiKey' ? '[redacted]' : forLog(v, depth + 1);
  return out;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function createSimulator(init: SimulatorInit = {}): Promise<Simulator> {
  const options = defaultOptions();
  applyOptions(options, init);
  const fixtures = loadFixtures();
  const snapshot = readFileSync(joinPath(__dirname, 'media', 'snapshot.jpg'));
  const stats = createStats();
  const jobs = new Map<string, Job>();
  const media = new Map<string, { job: Job; result: JobResult }>();
  const state: ApiState = { jobs, stats };
  let requestLog: RequestLogEntry[] = [];
  let deliveryLog: DeliveryLogEntry[] = [];
  const mediaFailures = { count: 0, status: 502 };
  const injector = new FaultInjector(options.randomSeed);
  const answers = new AnswerQueue();
  const deliveryTimers = new TimerSet();
  const responseTimers = new TimerSet();
  const sockets = new Set<Socket>();
  let closed = false;
  let baseUrl = '';

  const log = (line: string): void => {
    try {
      options.log?.(line);
    } catch {
      // a broken logger must not break the simulator
    }
  };
  const publicUrl = (): string => options.publicUrl || baseUrl;

  const deliveries = new Deliveries({
    options,
    shapes: () => resolveShapes(options),
    counters: stats,
    timers: deliveryTimers,
    fixtures,
    log,
    record: (entry) => {
      deliveryLog.push(entry);
      if (deliveryLog.length > DELIVERY_LOG_LIMIT) deliveryLog.splice(0, deliveryLog.length - DELIVERY_LOG_LIMIT);
    },
  });

  function pushLog(entry: RequestLogEntry): void {
    requestLog.push(entry);
    const limit = options.requestLogLimit;
    if (requestLog.length > limit) requestLog.splice(0, requestLog.length - limit);
  }

  function redactBody(text: string): string {
    let out = text.length > BODY_LOG_LIMIT ? text.slice(0, BODY_LOG_LIMIT) + '…' : text;
    out = out.replace(/("apiKey"\s*:\s*)"(?:[^"\\]|\\.)*"/g, '$1"[redacted]"');
    for (const key of options.apiKeys) if (key.length >= 4) out = out.split(key).join('[redacted]');
    return out;
  }

  function authorized(req: http.IncomingMessage): boolean {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m) return false;
    const given = sha256(m[1]);
    return options.apiKeys.some((key) => timingSafeEqual(sha256(key), given));
  }

  /** Process a request body: jobs accepted, media registered, deliveries armed (or sent, with webhookBeforeAck). */
  async function runTasks(text: string): Promise<ApiResult> {
    const now = Date.now();
    const result = processApiBody(text, state, {
      now,
      options,
      shapes: resolveShapes(options),
      publicUrl: publicUrl(),
      drawFailure: () => {
        const fail = injector.chance(options.faults.failedGeneration);
        if (fail) stats.faultsInjected.failedGeneration++;
        return fail;
      },
    });
    const beforeAck = options.webhookBeforeAck && options.renderMs === 0;
    const early: Array<Promise<void>> = [];
    for (const job of result.accepted) {
      for (const r of job.results) media.set(r.videoUUID, { job, result: r });
      if (beforeAck) early.push(deliveries.deliverNow(job));
      else deliveries.schedule(job, now);
    }
    // The callback beats the acknowledgment: the receiver sees a taskUUID it was never told about.
    if (early.length > 0) await Promise.all(early);
    return result;
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    stats.apiRequests++;
    const body = await readBody(req, options.maxBodyBytes);
    const entry: RequestLogEntry = { at: Date.now(), method: req.method ?? 'POST', path, status: 0, bodyText: redactBody(body.text), tasks: [] };
    pushLog(entry);
    const finish = (status: number, fault?: string, note = '') => {
      entry.status = status;
      if (fault) entry.fault = fault;
      log(`${entry.method} ${path} → ${status || 'no response'}${fault ? ` [fault: ${fault}]` : ''}${note ? ` ${note}` : ''}`);
    };
    if (body.aborted) return finish(0, undefined, '(client went away)');
    if (body.tooLarge) {
      sendJson(res, 413, errorBody('payloadTooLarge', `The request body exceeds ${options.maxBodyBytes} bytes.`, 'validation'), { Connection: 'close' });
      return finish(413);
    }
    if (options.faults.latencyMs > 0) await responseTimers.sleep(options.faults.latencyMs);
    if (!authorized(req)) {
      sendJson(res, 401, errorBody('invalidApiKey', "Invalid API key. Pass a valid key as 'Authorization: Bearer <key>'.", 'authentication'));
      return finish(401);
    }

    const scripted = answers.next();
    if (scripted) {
      stats.scriptedAnswers++;
      const result = scripted.process ? await runTasks(body.text) : undefined;
      const tasks = result ? result.tasks : parseTasks(body.text);
      entry.tasks = tasks.slice(0, 100).map((t) => forLog(t));
      sendText(res, scripted.status, stringifyLossless(answerBody(scripted, tasks)), scripted.headers);
      return finish(scripted.status, 'answer', result?.summary);
    }

    const fault = injector.next(options.faults);
    if (fault.kind === 'rateLimit') {
      stats.faultsInjected.rateLimit++;
      const message = `Rate limit exceeded. Retry after ${options.retryAfterSeconds} second(s).`;
      sendJson(res, 429, errorBody('rateLimitExceeded', message, 'rateLimit'), { 'Retry-After': String(options.retryAfterSeconds) });
      return finish(429, 'rateLimit');
    }
    if (fault.kind === 'serverError') {
      stats.faultsInjected.serverError++;
      const code = fault.status === 500 ? 'internalServerError' : 'serviceUnavailable';
      sendJson(res, fault.status, errorBody(code, `Simulated server error (HTTP ${fault.status}).`, 'server'));
      return finish(fault.status, 'serverError');
    }

    const result = await runTasks(body.text);
    entry.tasks = result.tasks.slice(0, 100).map((t) => forLog(t));
    const text = stringifyLossless(result.envelope);

    switch (fault.kind) {
      case 'reset':
        stats.faultsInjected.reset++;
        req.socket.destroy();
        return finish(0, 'reset', result.summary);
      case 'malformed':
        stats.faultsInjected.malformed++;
        sendText(res, 200, truncateJson(text));
        return finish(200, 'malformed', result.summary);
      case 'slow':
        stats.faultsInjected.slow++;
        await responseTimers.sleep(options.slowMs);
        if (res.destroyed || req.socket.destroyed) return finish(0, 'slow', '(client gave up)');
        sendText(res, result.status, text);
        return finish(result.status, 'slow', result.summary);
      default:
        sendText(res, result.status, text);
        return finish(result.status, undefined, result.summary);
    }
  }

  function handleMedia(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    stats.mediaRequests++;
    const entry: RequestLogEntry = { at: Date.now(), method: req.method ?? 'GET', path, status: 0, bodyText: '', tasks: [] };
    pushLog(entry);
    const failStatus = mediaFailures.count > 0 ? mediaFailures.status : options.faults.mediaStatus;
    if (failStatus) {
      if (mediaFailures.count > 0) mediaFailures.count--;
      stats.faultsInjected.media++;
      sendJson(res, failStatus, errorBody('mediaUnavailable', `Simulated media failure (HTTP ${failStatus}).`));
      entry.status = failStatus;
      entry.fault = 'media';
      return;
    }
    const m = /^\/media\/([0-9a-fA-F-]{36})\.(mp4|webm|mov)$/.exec(path);
    const found = m ? media.get(m[1].toLowerCase()) : undefined;
    if (!m || !found || MEDIA_TYPES[found.job.outputFormat].ext !== m[2] || !isServable(found.result, Date.now())) {
      sendJson(res, 404, errorBody('notFound', 'No such media.'));
      entry.status = 404;
      return;
    }
    entry.status = sendMedia(req, res, fixtures[found.job.outputFormat], MEDIA_TYPES[found.job.outputFormat].contentType);
  }

  /** The options as shown over HTTP, with the effective unconfirmed choices. */
  function configView(): Record<string, unknown> {
    return { ...publicOptions(options), effective: resolveShapes(options) };
  }

  async function readAdminJson(req: http.IncomingMessage): Promise<unknown> {
    const body = await readBody(req, ADMIN_BODY_LIMIT);
    if (body.tooLarge) throw new OptionError('body too large');
    if (body.text.trim() === '') return {};
    try {
      return JSON.parse(body.text);
    } catch {
      throw new OptionError('body is not valid JSON');
    }
  }

  async function handleAdmin(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const route = `${req.method} ${path.replace(/\/+$/, '')}`;
    try {
      switch (route) {
        case 'GET /__sim/stats':
          return sendJson(res, 200, sim.stats());
        case 'GET /__sim/requests':
          return sendJson(res, 200, sim.requests());
        case 'DELETE /__sim/requests':
          sim.clearRequests();
          return sendJson(res, 200, { ok: true });
        case 'GET /__sim/deliveries':
          return sendJson(res, 200, sim.deliveries());
        case 'GET /__sim/config':
          return sendJson(res, 200, configView());
        case 'POST /__sim/config': {
          const patch = await readAdminJson(req);
          if (typeof patch === 'object' && patch !== null && 'log' in patch) throw new OptionError('log cannot be set over HTTP');
          sim.configure(patch as SimulatorInit);
          return sendJson(res, 200, configView());
        }
        case 'POST /__sim/reset':
          sim.reset();
          return sendJson(res, 200, { ok: true });
        case 'POST /__sim/faults': {
          const body = await readAdminJson(req);
          const b = (typeof body === 'object' && body !== null ? body : {}) as { queue?: unknown; media?: { count?: unknown; status?: unknown } };
          if (b.queue !== undefined) {
            if (!Array.isArray(b.queue)) throw new OptionError('queue must be an array of fault names');
            sim.queueFaults(b.queue.map(String));
          }
          if (b.media !== undefined) sim.failMedia(Number(b.media.count), b.media.status === undefined ? undefined : Number(b.media.status));
          return sendJson(res, 200, { ok: true, queued: injector.queued, mediaFailuresLeft: mediaFailures.count });
        }
        case 'POST /__sim/answers': {
          const body = await readAdminJson(req);
          const list = Array.isArray(body) ? body : (body as { answers?: unknown }).answers;
          if (!Array.isArray(list)) throw new OptionError('send {"answers":[{status, body, headers?, process?}, ...]} or the array itself');
          answers.enqueue(list);
          return sendJson(res, 200, { ok: true, queued: answers.size });
        }
        default:
          return sendJson(res, 404, errorBody('notFound', `No admin route ${route}.`));
      }
    } catch (err) {
      if (err instanceof OptionError) {
        return sendJson(res, 400, errorBody('invalidConfig', err.message, 'validation'));
      }
      throw err;
    }
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Path only, split by hand: new URL() would read "//host/x" as an authority.
    const path = (req.url ?? '/').split('?')[0] || '/';
    const method = req.method ?? 'GET';
    if (path === '/v1' || path === '/v1/' || path === '/') {
      if (method === 'POST') return handleApi(req, res, path);
      return sendJson(res, 405, errorBody('methodNotAllowed', 'Use POST with a JSON array of tasks.'), { Allow: 'POST' });
    }
    if (path.startsWith('/media/') && (method === 'GET' || method === 'HEAD')) return handleMedia(req, res, path);
    if (path === '/health' && method === 'GET') return sendJson(res, 200, { ok: true });
    if (path === '/samples/snapshot.jpg' && (method === 'GET' || method === 'HEAD')) return void sendMedia(req, res, snapshot, 'image/jpeg');
    if (path.startsWith('/__sim/')) return handleAdmin(req, res, path);
    sendJson(res, 404, errorBody('notFound', `No route ${method} ${path}.`));
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      // Never crash on hostile input: answer 500 with an errors body.
      log(`internal error on ${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, errorBody('internalServerError', 'Internal simulator error.', 'server'));
      else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `http://${hostForUrl(options.host)}:${port}`;
  if (!options.publicUrl) options.publicUrl = baseUrl;

  const sim: Simulator = {
    url: `${baseUrl}/v1`,
    baseUrl,
    port,
    options,
    configure(patch) {
      applyOptions(options, patch);
      if (patch.randomSeed !== undefined) injector.reseed(options.randomSeed);
      return options;
    },
    queueFaults(faults) {
      injector.enqueue(faults);
    },
    queueAnswers(list) {
      answers.enqueue(list);
    },
    shapes() {
      return resolveShapes(options);
    },
    failMedia(count, status = 502) {
      if (!Number.isInteger(count) || count < 0) throw new OptionError('media failure count must be an integer >= 0');
      if (!Number.isInteger(status) || status < 400 || status > 599) throw new OptionError('media failure status must be 400..599');
      mediaFailures.count = count;
      mediaFailures.status = status;
    },
    stats() {
      return { ...stats, acceptedByUUID: { ...stats.acceptedByUUID }, faultsInjected: { ...stats.faultsInjected }, jobs: jobs.size };
    },
    requests() {
      return requestLog.map((e) => ({ ...e }));
    },
    clearRequests() {
      requestLog = [];
    },
    deliveries() {
      return deliveryLog.map((e) => ({ ...e }));
    },
    reset() {
      deliveries.cancelAll();
      deliveryTimers.clear();
      jobs.clear();
      media.clear();
      Object.assign(stats, createStats());
      requestLog = [];
      deliveryLog = [];
      injector.clearQueue();
      answers.clear();
      injector.reseed(options.randomSeed);
      mediaFailures.count = 0;
    },
    async close() {
      if (closed) return;
      closed = true;
      deliveries.cancelAll();
      deliveryTimers.clear();
      responseTimers.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
      await done;
    },
  };
  return sim;
}
