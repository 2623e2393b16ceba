/**
 * One batched getResponse per tick for every due task of an account, instead of one request per
 * task: with 100 videos rendering that is 1 request per tick, not 100. Each task keeps its own
 * backoff (initial delay, then x1.5 up to a cap, as Runware advises for video); tasks due within
 * COALESCE_MS of each other share a tick so their schedules converge.
 */
import { OviError } from './errors';
import { JobHub } from './job-hub';
import { RunwareClient } from './runware-client';

export interface PollTiming {
  initialDelayMs: number;
  intervalMs: number;
  maxIntervalMs: number;
}

export const DEFAULT_TIMING: PollTiming = { initialDelayMs: 5000, intervalMs: 2000, maxIntervalMs: 10000 };
const FACTOR = 1.5;
const COALESCE_MS = 1000;
const MAX_BATCH = 200;

export interface Logger {
  warn(text: string): void;
  debug?(text: string): void;
}

interface Entry {
  nextAt: number;
  interval: number;
  timing: PollTiming;
}

export class PollScheduler {
  private readonly entries = new Map<string, Entry>();
  private timer?: NodeJS.Timeout;
  private armedAt = Infinity; // when the timer fires
  private busy = false;
  private closed = false;
  private readonly abort = new AbortController();
  private lastWarn = 0;
  readonly stats = { ticks: 0, requests: 0 };

  constructor(
    private readonly client: RunwareClient,
    private readonly hub: JobHub,
    private readonly log: Logger,
  ) {}

  watching(uuid: string): boolean {
    return this.entries.has(uuid);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Poll a task from startAt on; watching it again (an ovi poll node claiming it) adopts the new timing. */
  watch(uuid: string, timing: PollTiming = DEFAULT_TIMING, startAt = Date.now() + timing.initialDelayMs): void {
    if (this.closed) return;
    const existing = this.entries.get(uuid);
    if (existing) {
      existing.nextAt = Math.min(existing.nextAt, startAt);
      existing.timing = timing;
      existing.interval = Math.min(existing.interval, timing.intervalMs);
    } else this.entries.set(uuid, { nextAt: startAt, interval: timing.intervalMs, timing });
    this.arm(Math.min(startAt, this.entries.get(uuid)?.nextAt ?? startAt));
  }

  unwatch(uuid: string): void {
    this.entries.delete(uuid);
  }

  /** Set the timer for the earliest due task; O(1) when a watch() is not due earlier than the timer. */
  private arm(dueAt?: number): void {
    if (this.busy || this.closed) return;
    if (dueAt !== undefined && this.timer && dueAt >= this.armedAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    let next = Infinity;
    if (dueAt !== undefined && dueAt < this.armedAt) next = dueAt;
    else for (const e of this.entries.values()) next = Math.min(next, e.nextAt);
    this.armedAt = next;
    if (next === Infinity) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(0, next - Date.now()));
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.armedAt = Infinity;
    if (this.closed) return;
    this.busy = true;
    this.stats.ticks++;
    try {
      const horizon = Date.now() + COALESCE_MS;
      const due = [...this.entries.entries()].filter(([, e]) => e.nextAt <= horizon).map(([u]) => u);
      for (let i = 0; i < due.length && !this.closed; i += MAX_BATCH) await this.pollBatch(due.slice(i, i + MAX_BATCH));
    } catch (e) {
      this.log.warn('ovi: poll tick failed: ' + (e instanceof Error ? e.message : String(e)));
    } finally {
      this.busy = false;
      this.arm();
    }
  }

  private async pollBatch(uuids: string[]): Promise<void> {
    this.stats.requests++;
    try {
      const answers = await this.client.getResponses(uuids, this.abort.signal);
      for (const [uuid, env] of answers) {
        if (!this.entries.has(uuid)) continue;
        this.hub.ingest(uuid, env);
        this.backoff(uuid);
      }
    } catch (e) {
      const err = e as OviError;
      if (err.code === 'cancelled') return;
      if (!err.retryable) {
        // A wrong key or a refused request will not heal by polling: fail the tasks, clearly.
        for (const uuid of uuids) {
          const rec = this.hub.get(uuid);
          if (rec)
            this.hub.fail(
              rec,
              new OviError({ code: err.code, rawCode: err.rawCode, message: 'polling failed: ' + err.message, httpStatus: err.httpStatus, retryable: false }),
            );
          this.entries.delete(uuid);
        }
        return;
      }
      const now = Date.now();
      if (now - this.lastWarn > 30_000) {
        this.lastWarn = now;
        this.log.warn('ovi: getResponse failed (' + err.code + ': ' + err.message + '); polling goes on with backoff');
      }
      for (const uuid of uuids) this.backoff(uuid);
    }
  }

  private backoff(uuid: string): void {
    const e = this.entries.get(uuid);
    if (!e) return;
    e.nextAt = Date.now() + e.interval;
    e.interval = Math.min(e.timing.maxIntervalMs, Math.round(e.interval * FACTOR));
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }
}
