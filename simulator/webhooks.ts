/**
 * Outgoing deliveries: one webhook POST per finished generation (its success, or its failure) and
 * the PUT of a successful generation's bytes to uploadEndpoint. Each is timed by its own timer at the
 * generation's finish time, independent of anyone polling, and redelivered after
 * `webhookRetryDelaysMs` on a non-2xx answer or a network error, then given up (counted in stats).
 *
 * Bodies follow the shapes in force when sent: a success as {"data":[item]} (or the bare item); a
 * failure as {"errors":[entry]} (failureShape 'errors') or as an error item wrapped like a success.
 */
import * as http from 'http';
import * as https from 'https';
import { stringifyLossless } from '../nodes/lib/lossless-json';
import { failureEntry, failureItem, successItem, type Job, type JobResult } from './jobs';
import { MEDIA_TYPES, type MediaFixtures } from './media';
import type { SimulatorOptions } from './options';
import type { Shapes } from './shapes';
import type { DeliveryCounters } from './stats';
import type { TimerSet } from './timers';

export interface DeliveryLogEntry {
  at: number;
  kind: 'webhook' | 'upload';
  method: 'POST' | 'PUT';
  /** The target without its query string: tokens in webhook URLs stay out of logs. */
  url: string;
  taskUUID: string;
  videoUUID?: string;
  attempt: number;
  /** HTTP status of the answer; absent on a network error. */
  status?: number;
  error?: string;
}

export interface DeliveryEnv {
  options: SimulatorOptions;
  /** The effective unconfirmed choices, read at each delivery. */
  shapes(): Shapes;
  counters: DeliveryCounters;
  timers: TimerSet;
  fixtures: MediaFixtures;
  record(entry: DeliveryLogEntry): void;
  log(line: string): void;
}

interface Delivery {
  kind: 'webhook' | 'upload';
  method: 'POST' | 'PUT';
  url: string;
  body: Buffer;
  contentType: string;
  taskUUID: string;
  videoUUID?: string;
}

/** Origin and path only, for logs. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return u.origin + u.pathname + (u.search ? '?…' : '');
  } catch {
    return '(invalid URL)';
  }
}

export class Deliveries {
  private readonly inflight = new Set<http.ClientRequest>();
  /** Bumped by cancelAll(): answers that arrive for an older epoch are ignored. */
  private epoch = 0;

  constructor(private readonly env: DeliveryEnv) {}

  /** Arm the timers that deliver each of this job's generations when it is due. */
  schedule(job: Job, now: number): void {
    if (!job.webhookURL && !job.uploadEndpoint) return;
    const onError = (err: unknown) => this.env.log(`delivery error: ${String(err)}`);
    for (const result of job.results) {
      this.env.timers.after(result.dueAt - now, () => this.deliverResult(job, result), onError);
    }
  }

  /** Deliver all of a job's generations now, resolving when every first attempt was answered. */
  async deliverNow(job: Job): Promise<void> {
    await Promise.all(job.results.map((r) => this.deliverResult(job, r)));
  }

  /** Forget everything in flight: no answer, retry or count happens after this. */
  cancelAll(): void {
    this.epoch++;
    for (const req of this.inflight) req.destroy();
    this.inflight.clear();
  }

  private async deliverResult(job: Job, result: JobResult): Promise<void> {
    const { options } = this.env;
    const pending: Array<Promise<void>> = [];
    if (job.webhookURL && options.webhooks) {
      const body = Buffer.from(stringifyLossless(this.webhookBody(job, result)));
      pending.push(
        this.webhookWithDuplicates({
          kind: 'webhook',
          method: 'POST',
          url: job.webhookURL,
          body,
          contentType: 'application/json',
          taskUUID: job.taskUUID,
          videoUUID: result.videoUUID,
        }),
      );
    }
    if (job.uploadEndpoint && !result.failure) {
      const media = MEDIA_TYPES[job.outputFormat];
      pending.push(
        this.attempt(
          {
            kind: 'upload',
            method: 'PUT',
            url: job.uploadEndpoint,
            body: this.env.fixtures[job.outputFormat],
            contentType: media.contentType,
            taskUUID: job.taskUUID,
            videoUUID: result.videoUUID,
          },
          1,
          this.epoch,
        ),
      );
    }
    await Promise.all(pending);
  }

  private webhookBody(job: Job, result: JobResult): unknown {
    const { webhookWrap, failureShape } = this.env.shapes();
    if (result.failure && failureShape === 'errors') return { errors: [failureEntry(job, result)] };
    const item = result.failure ? failureItem(job, result) : successItem(job, result);
    return webhookWrap === 'data' ? { data: [item] } : item;
  }

  /** The delivery, then `webhookDuplicates` identical copies once its first attempt is answered. */
  private async webhookWithDuplicates(d: Delivery): Promise<void> {
    const epoch = this.epoch;
    await this.attempt(d, 1, epoch);
    for (let i = 0; i < this.env.options.webhookDuplicates; i++) void this.attempt(d, 1, epoch);
  }

  /** One try; on failure arm the next one, or give up after the last configured delay. */
  private async attempt(d: Delivery, n: number, epoch: number): Promise<void> {
    if (epoch !== this.epoch) return;
    const { counters, options } = this.env;
    const isHook = d.kind === 'webhook';
    if (isHook) counters.webhookAttempts++;
    else counters.uploadAttempts++;
    let status: number | undefined;
    let error: string | undefined;
    try {
      status = await this.send(d, options.webhookTimeoutMs);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (epoch !== this.epoch) return;
    const url = redactUrl(d.url);
    this.env.record({ at: Date.now(), kind: d.kind, method: d.method, url, taskUUID: d.taskUUID, videoUUID: d.videoUUID, attempt: n, status, error });
    this.env.log(`${d.kind} ${d.method} ${url} → ${status ?? error} (attempt ${n})`);
    if (status !== undefined && status >= 200 && status < 300) {
      if (isHook) counters.webhookDelivered++;
      else counters.uploadsDelivered++;
      return;
    }
    const delays = options.webhookRetryDelaysMs;
    if (n <= delays.length) {
      this.env.timers.after(delays[n - 1], () => this.attempt(d, n + 1, epoch));
    } else if (isHook) {
      counters.webhookFailed++;
    } else {
      counters.uploadsFailed++;
    }
  }

  /** Send with node's http(s), no keep-alive agent: nothing lingers after close(). */
  private send(d: Delivery, timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const url = new URL(d.url);
      const client = url.protocol === 'https:' ? https : http;
      const req = client.request(url, {
        method: d.method,
        agent: false,
        timeout: timeoutMs,
        headers: {
          'Content-Type': d.contentType,
          'Content-Length': d.body.length,
          'User-Agent': 'runware-simulator',
          Connection: 'close',
        },
      });
      this.inflight.add(req);
      const done = () => this.inflight.delete(req);
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => {
        done();
        reject(err);
      });
      req.on('response', (res) => {
        // The status is what counts; the body is drained and ignored.
        res.resume();
        res.on('close', () => {
          done();
          resolve(res.statusCode ?? 0);
        });
      });
      req.end(d.body);
    });
  }
}
