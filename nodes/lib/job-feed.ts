/**
 * The editor's Ovi sidebar, runtime side: one feed per account (ovi-config node) watches the
 * account's job events and keeps a small view model (jobs in flight, the last results and failures,
 * the cost), and publishes what changed on `ovi/jobs/<config id>`, at most once per throttle period.
 *
 * Cheap when idle: nothing runs until an event changes something (no timer, no publish). Bounded:
 * the last `caps.results` results and `caps.failures` failures are kept; of the jobs in flight (the
 * account's own records, mirrored here as small views) the first `caps.jobs` are sent.
 * No Node-RED import: the config node hands in `publish` (RED.comms.publish).
 */
import { randomBytes } from 'crypto';
import type { JobEvent } from './account';
import type { OviError } from './errors';
import type { JobRecord, Via } from './job-hub';
import type { MediaRegistry } from './media-registry';
import type { ResultItem } from './runware-client';

export const TOPIC_PREFIX = 'ovi/jobs/';
export const DEFAULT_THROTTLE_MS = 300;

export interface FeedCaps {
  jobs: number;
  results: number;
  failures: number;
}
export const DEFAULT_CAPS: Readonly<FeedCaps> = { jobs: 50, results: 50, failures: 50 };

export interface JobView {
  taskUUID: string;
  state: 'queued' | 'submitting' | 'running';
  via: Via;
  /** The node whose output carries the results (a claiming ovi poll, an ovi webhook), else the submitter. */
  node?: string;
  submitter?: string;
  createdAt: number;
  deadline: number;
  progress?: number;
  /** Generations asked for, and how many have an outcome. */
  results: number;
  settled: number;
  /** Arrival order: the queue is FIFO, so a queued job's position follows from it. */
  order: number;
}

export interface ResultView {
  key: string;
  taskUUID: string;
  index: number;
  at: number;
  node?: string;
  videoURL?: string;
  /** Id for GET /ovi/media/:id: the file an output node wrote for this result. */
  media?: string;
  seed?: string;
  cost?: number;
  duration?: number;
  format?: string;
}

export interface FailureView {
  key: string;
  taskUUID: string;
  index: number;
  at: number;
  node?: string;
  code: string;
  rawCode?: string;
  parameter?: string;
  message: string;
  /** Generations the task asked for (a collect by taskUUID expects as many). */
  results: number;
}

export interface CostView {
  total: number;
  budget: number | null;
  reserved: number;
}

/** One account as the editor sees it: `full` replaces the editor's copy; otherwise the changes since `seq - 1`. */
export interface FeedMessage {
  v: 1;
  id: string;
  label: string;
  /** A new epoch (a restart) starts `seq` again at 1. */
  epoch: string;
  seq: number;
  full: boolean;
  now: number;
  cost: CostView;
  running: number;
  queued: number;
  /** Jobs in flight; the first `caps.jobs` of them are sent. */
  inFlight: number;
  caps: FeedCaps;
  jobs: JobView[];
  /** Jobs no longer in flight (or no longer among those sent). */
  gone: string[];
  results: ResultView[];
  failures: FailureView[];
  /** The account's config node was removed: forget it. */
  removed?: boolean;
}

/** What a feed reads of an Account (a structural subset, so tests can hand in a stand-in). */
export interface FeedSource {
  onJobEvent(observer: (e: JobEvent) => void): () => void;
  onChange(listener: () => void): () => void;
  readonly cost: CostView;
  readonly running: number;
  readonly queued: number;
  readonly ready: Promise<void>;
  readonly hub: { all(): JobRecord[]; get(uuid: string): JobRecord | undefined };
}

export interface FeedOptions {
  id: string;
  label: string;
  source: FeedSource;
  publish: (topic: string, data: FeedMessage) => void;
  media: MediaRegistry;
  /** Takes secrets out of texts that reach the editor (failure messages). */
  scrub?: (text: string) => string;
  throttleMs?: number;
  caps?: Partial<FeedCaps>;
}

interface Tracked {
  view: JobView;
  rev: number;
}

/** The view model; it outlives a feed when its config node is redeployed (history stays in the sidebar). */
export interface FeedModel {
  epoch: string;
  seq: number;
  order: number;
  jobs: Map<string, Tracked>;
  /** Revision of each job as last published. */
  sent: Map<string, number>;
  results: Map<string, ResultView>;
  failures: Map<string, FailureView>;
  freshResults: Set<string>;
  freshFailures: Set<string>;
  /** The account header as last published. */
  header: string;
}

export function newModel(): FeedModel {
  return {
    epoch: Date.now().toString(36) + '-' + randomBytes(4).toString('hex'),
    seq: 0,
    order: 0,
    jobs: new Map(),
    sent: new Map(),
    results: new Map(),
    failures: new Map(),
    freshResults: new Set(),
    freshFailures: new Set(),
    header: '',
  };
}

const MAX_MESSAGE = 500;
const MAX_URL = 2048;

export class JobFeed {
  readonly caps: FeedCaps;
  private readonly throttleMs: number;
  private readonly unsubscribe: Array<() => void> = [];
  private timer?: NodeJS.Timeout;
  private lastPublish = 0;
  private needSync = false;
  private stopped = false;

  constructor(
    private readonly opts: FeedOptions,
    readonly model: FeedModel = newModel(),
  ) {
    this.caps = { ...DEFAULT_CAPS, ...opts.caps };
    this.throttleMs = opts.throttleMs ?? DEFAULT_THROTTLE_MS;
  }

  get id(): string {
    return this.opts.id;
  }

  /** A publish is due (for tests: idle means no timer). */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  start(): this {
    const { source } = this.opts;
    this.unsubscribe.push(source.onJobEvent((e) => this.onEvent(e)));
    // Counts change without a job event too (a refused submit drops its record): check then.
    this.unsubscribe.push(
      source.onChange(() => {
        this.needSync = true;
        this.schedule();
      }),
    );
    // Jobs resumed from the store after a restart or redeploy are not announced as events.
    source.ready.then(
      () => this.sync(),
      () => this.sync(),
    );
    // A carried model may hold changes not published yet.
    if (this.model.freshResults.size > 0 || this.model.freshFailures.size > 0) this.schedule();
    return this;
  }

  /** Stop watching; returns the model for the node that replaces this one. */
  stop(): FeedModel {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.model;
  }

  /** The config node is gone: forget its files and tell the editors. */
  remove(): void {
    this.stop();
    for (const r of this.model.results.values()) this.opts.media.forget(r.media);
    const msg = this.message(true, [], [...this.model.jobs.keys()], [], []);
    this.model.jobs.clear();
    this.model.results.clear();
    this.model.failures.clear();
    this.opts.publish(TOPIC_PREFIX + this.opts.id, { ...msg, seq: ++this.model.seq, removed: true });
  }

  /** Everything, for an editor that just opened (GET /ovi/jobs). */
  snapshot(): FeedMessage {
    const jobs = this.window().map((t) => ({ ...t.view }));
    return this.message(true, jobs, [], [...this.model.results.values()].map(copy), [...this.model.failures.values()].map(copy));
  }

  /** Align the jobs in flight with the account's records (after a resume, a collect, a dropped submit). */
  sync(): void {
    if (this.stopped) return;
    const { hub } = this.opts.source;
    let changed = false;
    for (const uuid of [...this.model.jobs.keys()]) {
      const rec = hub.get(uuid);
      if (!rec || rec.done) {
        this.model.jobs.delete(uuid);
        changed = true;
      }
    }
    for (const rec of hub.all()) if (!rec.done && this.track(rec)) changed = true;
    if (changed) this.schedule();
  }

  private onEvent(e: JobEvent): void {
    if (this.stopped) return;
    let changed = false;
    switch (e.kind) {
      case 'queued':
      case 'submitting':
      case 'running':
        changed = this.track(e.rec);
        break;
      case 'progress':
        changed = this.track(e.rec, e.progress);
        break;
      case 'result':
        this.track(e.rec);
        this.addResult(e.rec, e.item, e.index);
        changed = true;
        break;
      case 'failure':
        this.track(e.rec);
        this.addFailure(e.rec, e.err, e.index);
        changed = true;
        break;
      case 'finished':
        changed = this.model.jobs.delete(e.rec.taskUUID);
        break;
      case 'file':
        this.attachFile(e.taskUUID, e.file, e.item);
        changed = true;
        break;
      case 'cost':
        changed = true;
        break;
    }
    if (changed) this.schedule();
  }

  /** Add or update a job's view; true when something the editor shows changed. */
  private track(rec: JobRecord, progress?: number): boolean {
    if (rec.done) return false;
    const next = {
      state: rec.state ?? 'running',
      node: rec.ownerId ?? rec.submitterId,
      results: rec.numberResults,
      settled: rec.delivered.length + rec.failed.length,
      deadline: rec.deadline,
      progress: progress === undefined ? undefined : Math.max(0, Math.min(100, Math.round(progress))),
    };
    const t = this.model.jobs.get(rec.taskUUID);
    if (!t) {
      const view: JobView = {
        taskUUID: rec.taskUUID,
        via: rec.via,
        submitter: rec.submitterId,
        createdAt: rec.createdAt,
        order: ++this.model.order,
        ...next,
      };
      if (view.progress === undefined) delete view.progress;
      this.model.jobs.set(rec.taskUUID, { view, rev: 1 });
      return true;
    }
    const v = t.view;
    if (next.progress === undefined) next.progress = v.progress; // an answer without progress keeps the last one
    if (
      v.state === next.state &&
      v.node === next.node &&
      v.results === next.results &&
      v.settled === next.settled &&
      v.deadline === next.deadline &&
      v.progress === next.progress
    )
      return false;
    Object.assign(v, next);
    if (v.progress === undefined) delete v.progress;
    t.rev++;
    return true;
  }

  private addResult(rec: JobRecord, item: ResultItem, index: number): void {
    const key = resultKey(rec.taskUUID, item, index);
    const old = this.model.results.get(key);
    const view: ResultView = {
      key,
      taskUUID: rec.taskUUID,
      index,
      at: old?.at ?? Date.now(),
      node: rec.ownerId ?? rec.submitterId,
      format: rec.outputFormat,
      ...itemFields(item),
    };
    if (old?.media) view.media = old.media;
    this.putResult(view);
  }

  /** An output node wrote a result to a file: the sidebar plays it from there (by id, never by path). */
  private attachFile(taskUUID: string, file: string, item: ResultItem): void {
    let view = this.model.results.get(resultKey(taskUUID, item, -1));
    if (!view && typeof item.videoURL === 'string') {
      for (const r of this.model.results.values()) if (r.taskUUID === taskUUID && r.videoURL === item.videoURL) view = r;
    }
    if (!view) {
      // A result this feed did not see (e.g. a foreign one an ovi webhook accepted): list it anyway.
      view = { key: taskUUID + '/file-' + ++this.model.order, taskUUID, index: 0, at: Date.now(), ...itemFields(item) };
    }
    this.opts.media.forget(view.media);
    this.putResult({ ...view, media: this.opts.media.add(file) });
  }

  private putResult(view: ResultView): void {
    const { results } = this.model;
    results.set(view.key, view);
    this.model.freshResults.add(view.key);
    while (results.size > this.caps.results) {
      const oldest = results.keys().next().value as string;
      this.opts.media.forget(results.get(oldest)?.media);
      results.delete(oldest);
      this.model.freshResults.delete(oldest);
    }
  }

  private addFailure(rec: JobRecord, err: OviError, index: number): void {
    const { failures } = this.model;
    const key = 'f' + ++this.model.order;
    const scrub = this.opts.scrub ?? ((t: string) => t);
    const view: FailureView = {
      key,
      taskUUID: rec.taskUUID,
      index,
      at: Date.now(),
      node: rec.ownerId ?? rec.submitterId,
      code: String(err.code),
      message: scrub(String(err.message ?? '')).slice(0, MAX_MESSAGE),
      results: rec.numberResults,
    };
    if (err.rawCode) view.rawCode = scrub(String(err.rawCode)).slice(0, 100);
    if (err.parameter !== undefined) view.parameter = scrub(([] as string[]).concat(err.parameter).join(', ')).slice(0, 200);
    failures.set(key, view);
    this.model.freshFailures.add(key);
    while (failures.size > this.caps.failures) {
      const oldest = failures.keys().next().value as string;
      failures.delete(oldest);
      this.model.freshFailures.delete(oldest);
    }
  }

  /** At most one publish per throttle period; a burst of events becomes one message. */
  private schedule(): void {
    if (this.timer || this.stopped) return;
    const delay = Math.max(0, this.lastPublish + this.throttleMs - Date.now());
    this.timer = setTimeout(() => this.flush(), delay);
    this.timer.unref?.();
  }

  private flush(): void {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.needSync) {
      this.needSync = false;
      for (const uuid of [...this.model.jobs.keys()]) {
        const rec = this.opts.source.hub.get(uuid);
        if (!rec || rec.done) this.model.jobs.delete(uuid);
      }
    }
    const { model } = this;
    const window = this.window();
    const inWindow = new Set<string>();
    const jobs: JobView[] = [];
    for (const t of window) {
      inWindow.add(t.view.taskUUID);
      if (model.sent.get(t.view.taskUUID) === t.rev) continue;
      model.sent.set(t.view.taskUUID, t.rev);
      jobs.push({ ...t.view });
    }
    const gone: string[] = [];
    for (const uuid of [...model.sent.keys()]) {
      if (inWindow.has(uuid)) continue;
      model.sent.delete(uuid);
      gone.push(uuid);
    }
    const results = [...model.freshResults]
      .map((k) => model.results.get(k))
      .filter(isDefined)
      .map(copy);
    const failures = [...model.freshFailures]
      .map((k) => model.failures.get(k))
      .filter(isDefined)
      .map(copy);
    model.freshResults.clear();
    model.freshFailures.clear();
    const msg = this.message(false, jobs, gone, results, failures);
    const header = JSON.stringify([msg.cost, msg.running, msg.queued, msg.inFlight]);
    if (jobs.length === 0 && gone.length === 0 && results.length === 0 && failures.length === 0 && header === model.header) return;
    model.header = header;
    msg.seq = ++model.seq;
    this.lastPublish = Date.now();
    this.opts.publish(TOPIC_PREFIX + this.opts.id, msg);
  }

  /** The jobs the editor is sent: the first caps.jobs in arrival order. */
  private window(): Tracked[] {
    const out: Tracked[] = [];
    for (const t of this.model.jobs.values()) {
      if (out.length >= this.caps.jobs) break;
      out.push(t);
    }
    return out;
  }

  private message(full: boolean, jobs: JobView[], gone: string[], results: ResultView[], failures: FailureView[]): FeedMessage {
    const { source } = this.opts;
    const cost = source.cost;
    return {
      v: 1,
      id: this.opts.id,
      label: this.opts.label,
      epoch: this.model.epoch,
      seq: this.model.seq,
      full,
      now: Date.now(),
      cost: { total: cost.total, budget: cost.budget, reserved: cost.reserved },
      running: source.running,
      queued: source.queued,
      inFlight: this.model.jobs.size,
      caps: { ...this.caps },
      jobs,
      gone,
      results,
      failures,
    };
  }
}

function resultKey(taskUUID: string, item: ResultItem, index: number): string {
  return taskUUID + '/' + (typeof item.videoUUID === 'string' && item.videoUUID ? item.videoUUID.slice(0, 100) : String(index));
}

/** The fields of a result item the sidebar shows (never the whole item: it is Runware's, of any size). */
function itemFields(item: ResultItem): Pick<ResultView, 'videoURL' | 'seed' | 'cost' | 'duration'> {
  const out: Pick<ResultView, 'videoURL' | 'seed' | 'cost' | 'duration'> = {};
  const url = item.videoURL;
  if (typeof url === 'string' && url.length <= MAX_URL && /^https?:\/\//i.test(url)) out.videoURL = url;
  // A seed may be a bigint (lossless JSON): as text, it survives JSON and keeps every digit.
  if (typeof item.seed === 'number' || typeof item.seed === 'bigint' || (typeof item.seed === 'string' && /^\d{1,20}$/.test(item.seed)))
    out.seed = String(item.seed);
  if (typeof item.cost === 'number' && Number.isFinite(item.cost)) out.cost = item.cost;
  const duration = item.duration;
  if (typeof duration === 'number' && Number.isFinite(duration) && duration > 0) out.duration = duration;
  return out;
}

function copy<T extends object>(v: T): T {
  return { ...v };
}

function isDefined<T>(v: T | undefined): v is T {
  return v !== undefined;
}
