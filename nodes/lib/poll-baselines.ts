/**
 * The two schedules the adaptive policy is measured against (bench/run.js selects them per account):
 * - sdk: Runware's TypeScript SDK, emulated exactly: each task its own request, first after 1 s, then
 *   the SDK's sleeps (sdk-cadence.ts) counted from each answer, all polls of a tick sent at once.
 * - fixed: this package's schedule before the adaptive policy (0.1.0): per task, the first poll after
 *   initialDelay, then intervalMs ×1.5 up to maxIntervalMs; tasks due within a second share a tick,
 *   at most maxBatch per request, one request after the other.
 */
import type { PolicyOptions, PollPlan, PollPolicy, PollReport, PollTiming, WatchSpec } from './poll-policy';
import { sdkDelay } from './sdk-cadence';

interface SdkTask {
  nextAt: number;
  poll: number; // the number of the next poll
  sent: boolean;
}

export class SdkPolicy implements PollPolicy {
  readonly name = 'sdk';
  private readonly tasks = new Map<string, SdkTask>();

  constructor(private readonly opts: PolicyOptions) {}

  get size(): number {
    return this.tasks.size;
  }

  has(uuid: string): boolean {
    return this.tasks.has(uuid);
  }

  watch(uuid: string, now: number, _spec: WatchSpec): number {
    // The SDK knows no settings: a second watch (a claim) changes nothing.
    const t = this.tasks.get(uuid) ?? { nextAt: now + sdkDelay(1, this.opts.timeScale), poll: 1, sent: false };
    this.tasks.set(uuid, t);
    return t.nextAt;
  }

  unwatch(uuid: string): void {
    this.tasks.delete(uuid);
  }

  clear(): void {
    this.tasks.clear();
  }

  nextAt(_now: number): number {
    let next = Infinity;
    for (const t of this.tasks.values()) if (!t.sent && t.nextAt < next) next = t.nextAt;
    return next;
  }

  take(now: number): PollPlan | undefined {
    const batches: string[][] = [];
    for (const [uuid, t] of this.tasks) {
      if (t.sent || t.nextAt > now) continue;
      t.sent = true;
      batches.push([uuid]);
    }
    return batches.length > 0 ? { batches, parallel: true } : undefined;
  }

  answered(uuid: string, _sentAt: number, now: number, _report: PollReport): void {
    const t = this.tasks.get(uuid);
    if (!t) return;
    t.sent = false;
    t.poll++;
    t.nextAt = now + sdkDelay(t.poll, this.opts.timeScale);
  }

  failed(batches: string[][], now: number): void {
    // The SDK's transport retries by itself; its poll loop then sleeps as after an answer.
    for (const b of batches) for (const uuid of b) this.answered(uuid, now, now, { results: 0, pending: true });
  }
}

interface FixedTask {
  nextAt: number;
  interval: number;
  timing: PollTiming;
}

const FIXED_FACTOR = 1.5;
const FIXED_COALESCE_MS = 1000;

export class FixedPolicy implements PollPolicy {
  readonly name = 'fixed';
  private readonly tasks = new Map<string, FixedTask>();

  constructor(private readonly opts: PolicyOptions) {}

  get size(): number {
    return this.tasks.size;
  }

  has(uuid: string): boolean {
    return this.tasks.has(uuid);
  }

  watch(uuid: string, now: number, spec: WatchSpec): number {
    const startAt = spec.startAt ?? now + spec.timing.initialDelayMs;
    const t = this.tasks.get(uuid);
    if (t) {
      t.nextAt = Math.min(t.nextAt, startAt);
      t.timing = spec.timing;
      t.interval = Math.min(t.interval, spec.timing.intervalMs);
    } else this.tasks.set(uuid, { nextAt: startAt, interval: spec.timing.intervalMs, timing: spec.timing });
    return Math.min(startAt, this.tasks.get(uuid)?.nextAt ?? startAt);
  }

  unwatch(uuid: string): void {
    this.tasks.delete(uuid);
  }

  clear(): void {
    this.tasks.clear();
  }

  nextAt(_now: number): number {
    let next = Infinity;
    for (const t of this.tasks.values()) if (t.nextAt < next) next = t.nextAt;
    return next;
  }

  take(now: number): PollPlan | undefined {
    const horizon = now + FIXED_COALESCE_MS * this.opts.timeScale;
    const due: string[] = [];
    for (const [uuid, t] of this.tasks) if (t.nextAt <= horizon) due.push(uuid);
    if (due.length === 0) return undefined;
    const batches: string[][] = [];
    for (let i = 0; i < due.length; i += this.opts.maxBatch) batches.push(due.slice(i, i + this.opts.maxBatch));
    return { batches, parallel: false };
  }

  answered(uuid: string, _sentAt: number, now: number): void {
    this.backoff(uuid, now);
  }

  failed(batches: string[][], now: number): void {
    for (const b of batches) for (const uuid of b) this.backoff(uuid, now);
  }

  private backoff(uuid: string, now: number): void {
    const t = this.tasks.get(uuid);
    if (!t) return;
    t.nextAt = now + t.interval;
    t.interval = Math.min(t.timing.maxIntervalMs, Math.round(t.interval * FIXED_FACTOR));
  }
}
