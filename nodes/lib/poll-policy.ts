/**
 * When to poll, decided without a clock of its own: the scheduler passes `now`, sends what take()
 * returns, and reports every answer. Pure (no timers, no I/O), so a test drives it on a simulated
 * clock.
 *
 * The adaptive policy spends a request budget that Runware's own SDK would spend anyway, but where
 * it buys speed:
 * - Credits. Each task in flight earns one credit each time the SDK would poll it (sdk-cadence.ts:
 *   its first check, then the SDK's sleeps, each counted from the answer of the previous one), until
 *   the task is finished. A request costs one credit and is sent only when one is there, so the
 *   requests made never outnumber the SDK's for the same tasks, at any moment.
 * - Honours. At each of those instants the task is polled (within CLUSTER_MS when instants of
 *   several tasks crowd together), so it is never found later than the SDK would find it; a task
 *   alone, with nothing learned, is polled exactly when the SDK would poll it.
 * - Extra ticks. One request carries every task in flight (up to maxBatch per request), so the
 *   credits of many tasks pay for ticks that serve them all: about every TARGET_SPACING_MS while
 *   some task is likely to finish (the render model's window, or `progress` when Runware reports
 *   it), spread evenly when credits are few, and none when nothing is expected.
 * - Pauses. A refused request (429, Retry-After, a transient failure) pauses every tick until the
 *   server's Retry-After or our backoff has passed; its credit is given back, so the requests
 *   Runware answered stay within the SDK's count, and a pause earns nothing (the next instant of a
 *   task is only set once its honour is answered).
 */
import { RenderModel, TaskFeatures, Window } from './render-model';
import { cadenceDelay, sdkNominal, sdkPollAtOrAfter } from './sdk-cadence';

export interface PollTiming {
  initialDelayMs: number;
  intervalMs: number;
  maxIntervalMs: number;
}

export interface WatchSpec {
  timing: PollTiming;
  /** When to poll first (epoch ms); default: initialDelayMs after the first watch. */
  startAt?: number;
  features: TaskFeatures;
  /** false: do not learn render times from this task (its submit time is not known, e.g. resumed). */
  learn?: boolean;
}

export interface PollPlan {
  batches: string[][];
  /** Send the batches at once (true) or one after the other, stopping at a refusal (false). */
  parallel: boolean;
}

/** What one getResponse answer said about a task. */
export interface PollReport {
  results: number; // results finished so far (answers are cumulative)
  pending: boolean; // some result still renders
  progress?: number; // 0-100, when Runware reports it
}

export type PolicyName = 'adaptive' | 'sdk' | 'fixed';

export interface PolicyOptions {
  /** Multiplies every built-in duration (the bench runs a scaled-down clock); 1 in production. */
  timeScale: number;
  maxBatch: number;
}

export interface PollPolicy {
  readonly name: PolicyName;
  readonly size: number;
  has(uuid: string): boolean;
  /** Poll a task, or adopt new timing for it; returns the earliest time it may need a tick. */
  watch(uuid: string, now: number, spec: WatchSpec): number;
  unwatch(uuid: string): void;
  /** When take() will next have something to send (Infinity: nothing). */
  nextAt(now: number): number;
  take(now: number): PollPlan | undefined;
  /** The answer for one task of a sent batch: sentAt when it left, now when it came back. */
  answered(uuid: string, sentAt: number, now: number, report: PollReport): void;
  /** These batches were refused or failed (or not sent after a refusal): no answer for their tasks. */
  failed(batches: string[][], now: number, retryAfterMs?: number): void;
  clear(): void;
}

export const MIN_SPACING_MS = 250; // between two ticks of one account
const CLUSTER_MS = 1000; // how late an honour may be to share a tick with others due
const TARGET_SPACING_MS = 1000; // tick spacing while some task is likely to finish
const PAUSE_BASE_MS = 1000; // after a failed tick, doubling per failure in a row
const PAUSE_MAX_MS = 30_000;
const MIN_PROGRESS = 5; // below this, progress says little about the finish

interface Task {
  features: TaskFeatures;
  timing: PollTiming;
  learn: boolean;
  submittedAt: number;
  /** The SDK poll number the next honour stands for. */
  poll: number;
  honourAt: number;
  credited: boolean; // the credit of honourAt is earned
  sent: boolean; // its honour rides on a request in flight
  started: boolean; // its first honour is due: it is polled from now on
  first: boolean; // its first honour is not answered yet
  results: number;
  pendingAt: number; // when the last poll that saw the next result pending left
  progress?: { at: number; pct: number };
  cached?: { version: number; results: number; win: Window | undefined };
}

export interface Ledger {
  earned: number;
  spent: number; // requests sent and not refused
  refused: number;
}

export class AdaptivePolicy implements PollPolicy {
  readonly name = 'adaptive';
  readonly model = new RenderModel();
  private readonly tasks = new Map<string, Task>();
  private readonly scale: number;
  private readonly maxBatch: number;
  readonly ledger: Ledger = { earned: 0, spent: 0, refused: 0 };
  private lastTickAt = -Infinity;
  private pausedUntil = -Infinity;
  private failures = 0;

  constructor(opts: PolicyOptions) {
    this.scale = opts.timeScale;
    this.maxBatch = opts.maxBatch;
  }

  get size(): number {
    return this.tasks.size;
  }

  get balance(): number {
    return this.ledger.earned - this.ledger.spent;
  }

  has(uuid: string): boolean {
    return this.tasks.has(uuid);
  }

  watch(uuid: string, now: number, spec: WatchSpec): number {
    const t = this.tasks.get(uuid);
    if (!t) {
      const start = spec.startAt ?? now + this.firstOffset(spec.timing);
      this.tasks.set(uuid, {
        features: spec.features,
        timing: spec.timing,
        learn: spec.learn !== false,
        submittedAt: now,
        poll: this.firstPoll(start - now),
        honourAt: start,
        credited: false,
        sent: false,
        started: false,
        first: true,
        results: 0,
        pendingAt: now,
      });
      return start;
    }
    // An ovi poll node claims a task the account already polls: its settings apply from now on.
    t.timing = spec.timing;
    t.features = spec.features;
    if (!t.started && !t.credited && !t.sent) {
      t.honourAt = spec.startAt ?? t.submittedAt + this.firstOffset(spec.timing);
      t.poll = this.firstPoll(t.honourAt - t.submittedAt);
    }
    return t.honourAt;
  }

  /** The first check: initialDelayMs, moved on to the SDK's next poll (5 s → 5.06 s) to stay in its step. */
  private firstOffset(timing: PollTiming): number {
    const first = sdkNominal(1, this.scale);
    if (timing.initialDelayMs < first) return timing.initialDelayMs; // asked for earlier than the SDK
    return sdkNominal(sdkPollAtOrAfter(timing.initialDelayMs, this.scale), this.scale);
  }

  /**
   * A first check at `offset` stands for the SDK's next poll at or after it, and later ones keep the
   * SDK's pace from there: never later than the SDK's, never more of them (the SDK made the polls
   * before `offset` too, as long as offset is at least its first sleep).
   */
  private firstPoll(offset: number): number {
    return sdkPollAtOrAfter(offset, this.scale);
  }

  unwatch(uuid: string): void {
    this.tasks.delete(uuid);
  }

  clear(): void {
    this.tasks.clear();
  }

  nextAt(now: number): number {
    return this.plan(now);
  }

  take(now: number): PollPlan | undefined {
    if (this.plan(now) > now) return undefined;
    this.accrue(now);
    const pollable: string[] = [];
    const due: Task[] = [];
    const dueIds: string[] = [];
    for (const [uuid, t] of this.tasks) {
      if (t.sent || !t.started) continue;
      pollable.push(uuid);
      if (t.honourAt <= now) {
        due.push(t);
        dueIds.push(uuid);
      }
    }
    const full = Math.ceil(pollable.length / this.maxBatch);
    // Every honour due has its credit in the balance, so polling just those is always affordable.
    const chosen = full > 0 && this.balance >= full ? pollable : dueIds;
    if (chosen.length === 0) return undefined;
    const batches: string[][] = [];
    for (let i = 0; i < chosen.length; i += this.maxBatch) batches.push(chosen.slice(i, i + this.maxBatch));
    this.ledger.spent += batches.length;
    for (const t of due) t.sent = true;
    this.lastTickAt = now;
    return { batches, parallel: false };
  }

  answered(uuid: string, sentAt: number, now: number, report: PollReport): void {
    const t = this.tasks.get(uuid);
    if (!t) return;
    this.failures = 0;
    if (t.sent) {
      // The SDK sleeps from the answer of its previous poll: so does the next credit. After a late
      // first check, add the time the SDK spent waiting for the answers of the polls we skipped,
      // or we would run a little ahead of it and miss what it catches.
      const skipped = t.first ? (t.poll - 1) * Math.max(0, now - sentAt) : 0;
      t.sent = false;
      t.first = false;
      t.poll++;
      t.honourAt = now + this.gapOf(t) + skipped;
      t.credited = false;
    }
    if (report.results > t.results) {
      if (t.learn) for (let i = t.results; i < report.results; i++) this.model.observe(t.features, i, t.pendingAt - t.submittedAt, sentAt - t.submittedAt);
      t.results = report.results;
      t.progress = undefined;
    }
    if (report.pending) t.pendingAt = sentAt;
    if (report.progress !== undefined && report.pending) t.progress = { at: sentAt, pct: report.progress };
  }

  failed(batches: string[][], now: number, retryAfterMs?: number): void {
    for (const batch of batches) {
      this.ledger.spent--;
      this.ledger.refused++;
      for (const uuid of batch) {
        const t = this.tasks.get(uuid);
        if (t) t.sent = false; // still due, its credit still earned: polled right after the pause
      }
    }
    this.failures++;
    const backoff = Math.min(PAUSE_MAX_MS, PAUSE_BASE_MS * 2 ** (this.failures - 1)) * this.scale;
    this.pausedUntil = Math.max(this.pausedUntil, now + Math.max(retryAfterMs ?? 0, backoff));
  }

  /** The SDK's sleep before the task's next poll, capped by its Longest interval instead of 10 s. */
  private gapOf(t: Task): number {
    return cadenceDelay(t.poll, t.timing.maxIntervalMs, this.scale);
  }

  private accrue(now: number): void {
    for (const t of this.tasks.values()) {
      if (t.credited || t.sent || t.honourAt > now) continue;
      t.credited = true;
      t.started = true;
      this.ledger.earned++;
    }
  }

  /** Where the next result of t is likely to be ready (absolute), from progress or the model. */
  private windowOf(t: Task): Window | undefined {
    if (t.results >= t.features.numberResults) return undefined;
    const p = t.progress;
    if (p && p.pct >= MIN_PROGRESS && p.pct < 100 && t.features.numberResults - t.results === 1) {
      const elapsed = p.at - t.submittedAt;
      const total = (elapsed * 100) / p.pct;
      return { from: t.submittedAt + Math.max(elapsed, total * 0.85), to: t.submittedAt + total * 1.2 };
    }
    const c = t.cached;
    let win: Window | undefined;
    if (c && c.version === this.model.version && c.results === t.results) win = c.win;
    else {
      win = this.model.window(t.features, t.results);
      t.cached = { version: this.model.version, results: t.results, win };
    }
    return win && { from: t.submittedAt + win.from, to: t.submittedAt + win.to };
  }

  /**
   * The time of the next tick: the earlier of the next honour (clustered) and the next extra tick.
   * Two passes over the tasks (10,000 in flight cost about a millisecond), no allocation per task.
   */
  private plan(now: number): number {
    if (this.tasks.size === 0) return Infinity;
    if (now < this.pausedUntil) return this.pausedUntil;
    const target = TARGET_SPACING_MS * this.scale;
    let first = Infinity;
    let tightest = Infinity;
    let pollable = 0;
    let dueBy = 0; // credits earned by now and not counted yet
    // The windows of the next results: what opens next, whether one is open, the slowest straggler.
    let windows = 0;
    let nextOpen = Infinity;
    let open = false;
    let straggler = Infinity;
    let horizon = 0;
    let income = 0;
    for (const t of this.tasks.values()) {
      if (t.timing.maxIntervalMs < tightest) tightest = t.timing.maxIntervalMs;
      if (t.sent) continue;
      if (t.honourAt < first) first = t.honourAt;
      if (!t.credited && t.honourAt <= now) dueBy++;
      if (!t.started && t.honourAt > now) continue;
      pollable++;
      const w = this.windowOf(t);
      if (!w) continue;
      windows++;
      if (now < w.from) nextOpen = Math.min(nextOpen, w.from);
      else if (now <= w.to) open = true;
      else straggler = Math.min(straggler, 1 + (2 * (now - w.to)) / Math.max(w.to - w.from, target)); // slow down past the window
      if (w.to > now) {
        horizon = Math.max(horizon, w.to - now);
        income += (w.to - now) / this.gapOf(t);
      }
    }
    const spacing = Math.min(MIN_SPACING_MS * this.scale, tightest);
    const earliest = Math.max(now, this.lastTickAt + spacing);
    const honour = first === Infinity ? Infinity : Math.max(earliest, this.clusterEnd(first, spacing, Math.min(CLUSTER_MS * this.scale, tightest)));
    if (windows === 0) return honour;
    const cost = Math.ceil(pollable / this.maxBatch);
    if (this.balance + dueBy < cost) return honour; // wait for credits: the next honour re-plans
    // Spread what we have and will earn over what is left of the windows.
    const h = Math.max(target, horizon > 0 ? (horizon * cost) / Math.max(1, this.balance + income) : target);
    const next = this.lastTickAt + h;
    let extra = Math.min(Math.max(nextOpen, next), open ? next : Infinity, this.lastTickAt + h * straggler);
    extra = Math.max(extra, earliest);
    // An extra tick just before an honour would spend two credits where one does.
    if (extra < honour && honour - extra < h / 2) return honour;
    return Math.min(honour, extra);
  }

  /**
   * Honours due within `link` of each other are chained into one tick, at most `bound` after the
   * first: one pass, into buckets `link` wide (an empty bucket is a gap of at least `link`).
   */
  private clusterEnd(first: number, link: number, bound: number): number {
    const n = Math.max(1, Math.ceil(bound / link));
    const lo = new Array<number>(n).fill(Infinity);
    const hi = new Array<number>(n).fill(-Infinity);
    for (const t of this.tasks.values()) {
      if (t.sent || t.honourAt < first || t.honourAt > first + bound) continue;
      const b = Math.min(n - 1, Math.floor((t.honourAt - first) / link));
      if (t.honourAt < lo[b]) lo[b] = t.honourAt;
      if (t.honourAt > hi[b]) hi[b] = t.honourAt;
    }
    let end = first;
    for (let b = 0; b < n && lo[b] - end <= link; b++) end = Math.max(end, hi[b]);
    return end;
  }
}
