/**
 * Polls an account's tasks in flight with batched getResponse requests, when its poll policy says
 * so: the timer, the HTTP calls and the hand-over to the job hub are here, the decisions in
 * poll-policy.ts (pure, on the clock this module passes it). One tick at a time per account.
 */
import { OviError } from './errors';
import { JobHub, JobRecord, classify } from './job-hub';
import { FixedPolicy, SdkPolicy } from './poll-baselines';
import { AdaptivePolicy, PolicyName, PolicyOptions, PollPolicy, PollReport, PollTiming } from './poll-policy';
import { TaskFeatures } from './render-model';
import { Envelope, RunwareClient } from './runware-client';
import { SDK_CAP_MS, SDK_FIRST_MS, SDK_SECOND_MS } from './sdk-cadence';

export type { PolicyName, PollTiming } from './poll-policy';

/** Tasks not (yet) claimed by an ovi poll node, resumed ones and the webhook fallback. */
/** Runware's SDK cadence as settings: with it, a lone task is polled exactly when the SDK would. */
export const SDK_TIMING: PollTiming = { initialDelayMs: SDK_FIRST_MS, intervalMs: SDK_SECOND_MS, maxIntervalMs: SDK_CAP_MS };
/** The account's own polling (tasks no ovi poll claimed yet, webhook fallbacks): the SDK's cadence. */
export const DEFAULT_TIMING: PollTiming = SDK_TIMING;
const MAX_BATCH = 200;

export interface Logger {
  warn(text: string): void;
  debug?(text: string): void;
}

export function createPolicy(name: PolicyName = 'adaptive', opts: Partial<PolicyOptions> = {}): PollPolicy {
  const o: PolicyOptions = { timeScale: opts.timeScale ?? 1, maxBatch: opts.maxBatch ?? MAX_BATCH };
  if (name === 'sdk') return new SdkPolicy(o);
  if (name === 'fixed') return new FixedPolicy(o);
  return new AdaptivePolicy(o);
}

/** What an answer tells the policy: results so far, still rendering, progress. */
export function reportOf(env: Envelope): PollReport {
  let results = 0;
  let pending = env.data.length === 0 && env.errors.length === 0;
  let progress: number | undefined;
  for (const item of env.data) {
    const kind = classify(item);
    if (kind === 'success') results++;
    else if (kind === 'pending') {
      pending = true;
      if (typeof item.progress === 'number' && Number.isFinite(item.progress)) progress = Math.max(progress ?? 0, item.progress);
    }
  }
  return { results, pending, progress };
}

function featuresOf(rec: JobRecord | undefined): TaskFeatures {
  return { numberResults: rec?.numberResults ?? 1, steps: rec?.steps, hasImage: rec?.hasImage };
}

type BatchOutcome = { kind: 'ok' } | { kind: 'failed'; retryAfterMs?: number } | { kind: 'cancelled' };

export class PollScheduler {
  private policyImpl: PollPolicy = createPolicy();
  private timer?: NodeJS.Timeout;
  private armedAt = Infinity; // when the timer fires
  private busy = false;
  private closed = false;
  // One controller per request in flight: a shared signal would collect a listener per parallel request.
  private readonly inFlight = new Set<AbortController>();
  private lastWarn = 0;
  readonly stats = { ticks: 0, requests: 0 };

  constructor(
    private readonly client: RunwareClient,
    private readonly hub: JobHub,
    private readonly log: Logger,
  ) {}

  /** The policy deciding when to poll (read-only: for the bench and diagnostics). */
  get policy(): PollPolicy {
    return this.policyImpl;
  }

  /** Switch to another schedule (the bench compares them); only while nothing is polled. */
  usePolicy(name: PolicyName, opts: Partial<PolicyOptions> = {}): void {
    if (this.policyImpl.size > 0) throw new Error('usePolicy: tasks are already being polled');
    this.policyImpl = createPolicy(name, opts);
  }

  watching(uuid: string): boolean {
    return this.policyImpl.has(uuid);
  }

  get size(): number {
    return this.policyImpl.size;
  }

  /**
   * Poll a task from startAt on (default: timing.initialDelayMs from the first watch); watching it
   * again (an ovi poll node claiming it) adopts the new timing.
   */
  watch(uuid: string, timing: PollTiming = DEFAULT_TIMING, startAt?: number): void {
    if (this.closed) return;
    const rec = this.hub.get(uuid);
    this.arm(this.policyImpl.watch(uuid, Date.now(), { timing, startAt, features: featuresOf(rec), learn: !rec?.resumed }));
  }

  unwatch(uuid: string): void {
    this.policyImpl.unwatch(uuid);
  }

  /** Set the timer; O(1) when a watch() is not due earlier than the timer (10,000 watches in a burst). */
  private arm(dueAt?: number): void {
    if (this.busy || this.closed) return;
    if (dueAt !== undefined && this.timer && dueAt >= this.armedAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    const next = dueAt !== undefined && dueAt < this.armedAt ? dueAt : this.policyImpl.nextAt(now);
    this.armedAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, next - now));
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.armedAt = Infinity;
    if (this.closed) return;
    const plan = this.policyImpl.take(Date.now());
    if (!plan) {
      // Woken early (a watch armed a time the policy then moved): sleep until its next tick.
      const now = Date.now();
      this.arm(this.policyImpl.nextAt(now) <= now ? now + 5 : undefined); // never spin, whatever the policy says
      return;
    }
    this.stats.ticks++;
    if (plan.parallel) {
      // One request per task, each on its own cycle as the SDK runs them: no tick waits for another.
      for (const batch of plan.batches) {
        this.pollBatch(batch)
          .then((outcome) => {
            if (outcome.kind === 'failed' && !this.closed) this.policyImpl.failed([batch], Date.now(), outcome.retryAfterMs);
          })
          .catch((e: unknown) => this.log.warn('ovi: poll failed: ' + (e instanceof Error ? e.message : String(e))))
          .finally(() => this.arm());
      }
      this.arm();
      return;
    }
    this.busy = true;
    try {
      for (let i = 0; i < plan.batches.length && !this.closed; i++) {
        const outcome = await this.pollBatch(plan.batches[i]);
        if (outcome.kind === 'cancelled') break;
        if (outcome.kind === 'failed') {
          // Refused: the rest of this tick waits for the pause too.
          this.policyImpl.failed(plan.batches.slice(i), Date.now(), outcome.retryAfterMs);
          break;
        }
      }
    } catch (e) {
      this.log.warn('ovi: poll tick failed: ' + (e instanceof Error ? e.message : String(e)));
    } finally {
      this.busy = false;
      this.arm();
    }
  }

  private async pollBatch(uuids: string[]): Promise<BatchOutcome> {
    this.stats.requests++;
    const sentAt = Date.now();
    let answers: Map<string, Envelope>;
    const abort = new AbortController();
    this.inFlight.add(abort);
    try {
      answers = await this.client.getResponses(uuids, abort.signal);
    } catch (e) {
      const err = e as OviError;
      if (err.code === 'cancelled') return { kind: 'cancelled' };
      if (!err.retryable) {
        // A wrong key or a refused request will not heal by polling: fail the tasks, clearly.
        for (const uuid of uuids) {
          const rec = this.hub.get(uuid);
          this.policyImpl.unwatch(uuid);
          if (rec)
            this.hub.fail(
              rec,
              new OviError({ code: err.code, rawCode: err.rawCode, message: 'polling failed: ' + err.message, httpStatus: err.httpStatus, retryable: false }),
            );
        }
        return { kind: 'ok' };
      }
      const now = Date.now();
      if (now - this.lastWarn > 30_000) {
        this.lastWarn = now;
        this.log.warn('ovi: getResponse failed (' + err.code + ': ' + err.message + '); polling goes on after a pause');
      }
      return { kind: 'failed', retryAfterMs: err.retryAfterMs };
    } finally {
      this.inFlight.delete(abort);
    }
    const now = Date.now();
    for (const uuid of uuids) {
      if (!this.policyImpl.has(uuid)) continue;
      const env = answers.get(uuid);
      // The policy first (it learns render times from the answer), then the hub (which may finish the task).
      this.policyImpl.answered(uuid, sentAt, now, env ? reportOf(env) : { results: 0, pending: true });
      if (env) this.hub.ingest(uuid, env);
    }
    return { kind: 'ok' };
  }

  close(): void {
    this.closed = true;
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.policyImpl.clear();
  }
}
