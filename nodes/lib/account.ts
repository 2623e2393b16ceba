/**
 * Everything one Runware account (one ovi-config node) owns: the client, the tasks in flight and
 * their durable store, the poll scheduler, the concurrency cap with its FIFO queue, and the budget.
 * No Node-RED imports: the config node is a thin shell around this.
 *
 * A job's life: recorded and persisted (queued) → a slot (submitting) → acknowledged (running) →
 * every generation has an outcome (finished). A restart or redeploy reloads the store: running jobs
 * resume polling, queued ones are sent under the same taskUUID, and ones that were being submitted
 * are first looked up with getResponse (the attempt before the restart may have arrived).
 */
import { Budget } from './budget';
import { OviError, stackOf } from './errors';
import { HubObservation, JobHub, JobRecord, Sink, SinkKind } from './job-hub';
import { LoadReport, MemoryStore, PersistedJob, PersistedState, Persister, StateStore } from './job-store';
import { parseLossless, stringifyLossless } from './lossless-json';
import { replaceToken } from './msg-snapshot';
import { DEFAULT_TIMING, Logger, PollScheduler, PollTiming } from './poll-scheduler';
import { ClientOptions, ResultItem, RunwareClient } from './runware-client';
import { Limiter } from './safe-download';

export interface AccountOptions extends ClientOptions {
  maxConcurrent: number; // jobs submitting or running at once; 0 = no cap
  budget?: number; // USD; submits fail with a quota error once spent + reserved reaches it
  costEstimate?: number; // USD per result reserved before real costs are known
  requireCost?: boolean; // a budget that stops when results carry no cost
  store?: StateStore;
  logger: Logger;
  /** The current token of an ovi webhook node: the job store keeps webhookURLs without it. */
  webhookToken?: (webhookNodeId: string) => string | undefined;
}

/** Stands for the webhook token in persisted tasks: the store is a plain file, the token a credential. */
const TOKEN_SLOT = '{ovi-webhook-token}';

interface Waiting {
  rec: JobRecord;
  start: () => void;
  refuse: (err: OviError) => void;
}

/**
 * What happens to this account's jobs, for observers such as the editor's Ovi sidebar: a job recorded
 * (queued), sent (submitting), acknowledged (running), progress, each outcome, the end, a result file
 * written by an output node, and the cost total changing.
 */
export type JobEvent =
  | { kind: 'queued' | 'submitting' | 'running' | 'finished'; rec: JobRecord }
  | HubObservation
  | { kind: 'file'; taskUUID: string; file: string; item: ResultItem }
  | { kind: 'cost' };

/** Reports an outcome nobody claimed, through the node that submitted the task (its Catch nodes). */
export type Reporter = (rec: JobRecord, err: OviError) => void;

type WireTask = Record<string, unknown> & { taskUUID: string };

const RESUME_DELAY_MS = 1000;
const RECHECK_DELAY_MS = 1000;

export class Account {
  readonly client: RunwareClient;
  readonly hub: JobHub;
  readonly scheduler: PollScheduler;
  readonly budget: Budget;
  /** Result downloads (Buffer and file output) at once for this account. */
  readonly downloads = new Limiter(4);
  private readonly queue: Waiting[] = [];
  private readonly persister: Persister;
  private readonly reporters = new Map<string, Reporter>();
  private active = 0; // records in state submitting or running
  private closed = false;
  // One controller per request in flight (a shared signal would collect a listener per request:
  // Node warns past 10 and scans the whole list on every add).
  private readonly inFlight = new Set<AbortController>();
  private readonly listeners = new Set<() => void>();
  private readonly observers = new Set<(e: JobEvent) => void>();
  readonly ready: Promise<void>;

  constructor(private readonly opts: AccountOptions) {
    this.client = new RunwareClient({ ...opts, onNote: (t) => opts.logger.warn('ovi: ' + t) });
    this.budget = new Budget({ limit: opts.budget, estimate: opts.costEstimate, requireCost: opts.requireCost }, (t) => opts.logger.warn(t));
    this.hub = new JobHub({
      finished: (rec) => {
        this.scheduler.unwatch(rec.taskUUID);
        this.budget.release(rec);
        this.release(rec);
        this.observe({ kind: 'finished', rec });
      },
      notice: (_rec, text) => opts.logger.warn('ovi: ' + text),
      changed: (rec) => void this.persister.persist(rec.taskUUID),
      cost: (amount, rec) => {
        this.budget.result(rec, amount);
        void this.persister.persist();
        this.changed();
        this.observe({ kind: 'cost' });
      },
      rerouted: (rec, to) =>
        opts.logger.warn('ovi: the node that owned task ' + rec.taskUUID + ' is gone since the restart: its results leave from ovi poll ' + to),
      unclaimed: (rec, err) => this.reportUnclaimed(rec, err),
      recheck: (rec) => this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING, Date.now() + RECHECK_DELAY_MS),
      observed: (e) => this.observe(e),
    });
    this.scheduler = new PollScheduler(this.client, this.hub, opts.logger);
    const store = opts.store ?? new MemoryStore();
    this.persister = new Persister(
      store,
      (uuid) => this.persisted(uuid),
      () => this.budget.spent,
      { snapshot: () => this.snapshot(), live: () => this.hub.size },
      (e) => opts.logger.warn('ovi: could not save jobs in flight to ' + store.description + ': ' + (e instanceof Error ? e.message : String(e))),
    );
    this.ready = this.resume(store).catch((e: unknown) => opts.logger.warn('ovi: could not resume jobs from ' + store.description + ': ' + stackOf(e)));
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Be told when the running/queued counts or the cost change (for node.status); returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** Be told of every job event (for the editor's sidebar); returns the unsubscribe. Observers must not throw. */
  onJobEvent(observer: (e: JobEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private observe(e: JobEvent): void {
    for (const o of this.observers) {
      try {
        o(e);
      } catch {
        // an observer's bug must not break a job
      }
    }
  }

  /** An output node wrote a result's video to a file. */
  noteFile(taskUUID: string, file: string, item: ResultItem): void {
    this.observe({ kind: 'file', taskUUID, file, item });
  }

  /** With a budget, every task must report its cost, or the total could not grow. */
  get tracksCost(): boolean {
    return this.budget.limited;
  }

  get cost(): { total: number; budget: number | null; reserved: number } {
    return { total: this.budget.spent, budget: this.budget.limit, reserved: this.budget.reserved };
  }

  /** A submit node reports unclaimed outcomes of its tasks through its Catch nodes. */
  addReporter(id: string, report: Reporter): void {
    this.reporters.set(id, report);
  }

  removeReporter(id: string, report: Reporter): void {
    if (this.reporters.get(id) === report) this.reporters.delete(id);
  }

  private reportUnclaimed(rec: JobRecord, err: OviError): void {
    const report = rec.submitterId ? this.reporters.get(rec.submitterId) : undefined;
    if (report) report(rec, err);
    else this.opts.logger.warn('ovi: ' + err.message);
  }

  private persisted(uuid: string): PersistedJob | undefined {
    const rec = this.hub.get(uuid);
    if (!rec || rec.done) return undefined;
    return toPersisted(rec);
  }

  private snapshot(): PersistedState {
    return { version: 1, jobs: this.hub.all().map(toPersisted), costTotal: this.budget.spent };
  }

  private hasSlot(): boolean {
    return this.opts.maxConcurrent <= 0 || this.active < this.opts.maxConcurrent;
  }

  private occupy(rec: JobRecord): void {
    rec.state = 'submitting';
    this.active++;
    this.changed();
    this.observe({ kind: 'submitting', rec });
  }

  private release(rec: JobRecord): void {
    if (rec.state === 'submitting' || rec.state === 'running') this.active--;
    rec.state = undefined;
    this.pump();
  }

  /** FIFO: resolves once the record holds a slot; rejects when the budget refuses it as it leaves the queue. */
  private acquire(rec: JobRecord, onQueued?: () => void): Promise<void> {
    if (this.queue.length === 0 && this.hasSlot()) {
      this.occupy(rec);
      return Promise.resolve();
    }
    onQueued?.();
    return new Promise((start, refuse) => {
      this.queue.push({ rec, start, refuse });
      this.changed();
    });
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.hasSlot()) {
      const next = this.queue.shift() as Waiting;
      if (next.rec.done) continue; // its deadline passed while it queued: already failed, never sent
      try {
        this.budget.admit(next.rec); // spending went on while it queued: check again
      } catch (e) {
        this.hub.drop(next.rec.taskUUID);
        this.budget.release(next.rec);
        void this.persister.persist(next.rec.taskUUID);
        next.refuse(e as OviError);
        continue;
      }
      this.occupy(next.rec); // reserved before it runs: two finishing jobs cannot start one waiter twice
      next.start();
    }
    this.changed();
  }

  /**
   * Record the job durably, wait for a slot, submit. The record exists before the HTTP request, so a
   * webhook that beats the acknowledgment is correlated and a crash mid-request loses nothing.
   */
  async submit(task: WireTask, rec: JobRecord, onQueued?: () => void): Promise<ResultItem> {
    const existing = this.hub.get(rec.taskUUID);
    if (existing && !existing.done) {
      throw new OviError({
        code: 'validation',
        rawCode: 'duplicateTaskUUID',
        parameter: 'taskUUID',
        taskUUID: rec.taskUUID,
        message: 'task ' + rec.taskUUID + ' is already in flight: not submitted again',
      });
    }
    this.budget.admit(rec);
    rec.state = 'queued';
    this.observe({ kind: 'queued', rec });
    // The store is a plain file and the webhook token a credential: persist a placeholder for it.
    rec.wire = stringifyLossless(typeof task.webhookURL === 'string' ? { ...task, webhookURL: replaceToken(task.webhookURL, TOKEN_SLOT) } : task);
    this.hub.add(rec);
    await this.persister.persist(rec.taskUUID);
    await this.acquire(rec, onQueued);
    return this.send(rec, task);
  }

  private acknowledged(rec: JobRecord): void {
    rec.acked = true;
    rec.wire = undefined;
    if (rec.via === 'custom') {
      // Results go to the user's own URL: we learn of them only if an ovi webhook node gets them,
      // so the job must not hold a concurrency slot until its deadline.
      this.active--;
      rec.state = undefined;
      this.pump();
    } else rec.state = 'running';
    this.observe({ kind: 'running', rec });
    void this.persister.persist(rec.taskUUID);
  }

  private async send(rec: JobRecord, task: WireTask, mayExist = false): Promise<ResultItem> {
    try {
      const ack = await this.withSignal((signal) => this.client.submit(task, signal, { mayExist }));
      this.acknowledged(rec);
      return ack;
    } catch (e) {
      const err = e as OviError;
      // The task may be at Runware (an answer was lost, then a resend was refused or could not be
      // settled): keep the job and let getResponse tell (its results, or notFound after the grace).
      // Dropping it could lose a job that runs and is billed, and invite a second submit.
      if (err.unconfirmed) {
        this.opts.logger.warn('ovi: task ' + rec.taskUUID + ' may have reached Runware (' + err.code + ': ' + err.message + '): polling to find out');
        rec.createdAt = Date.now();
        rec.wire = undefined;
        rec.state = 'running';
        void this.persister.persist(rec.taskUUID);
        if (rec.via !== 'custom') this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING);
        return { taskType: 'videoInference', taskUUID: rec.taskUUID, status: 'unconfirmed' };
      }
      // Closing mid-request: the record stays (persisted as submitting) for the next instance.
      if (err.code !== 'cancelled') {
        this.hub.drop(rec.taskUUID);
        this.budget.release(rec);
        this.release(rec);
        void this.persister.persist(rec.taskUUID);
      }
      throw err;
    }
  }

  private async withSignal<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    if (this.closed) controller.abort();
    this.inFlight.add(controller);
    try {
      return await run(controller.signal);
    } finally {
      this.inFlight.delete(controller);
    }
  }

  /** After a restart or redeploy: take back the jobs in flight. One bad saved record never stops the others. */
  private async resume(store: StateStore): Promise<void> {
    const { state, skipped, problem }: LoadReport = await store.load();
    const log = this.opts.logger;
    if (problem) log.warn('ovi: JOB STORE PROBLEM: ' + problem);
    for (const s of skipped) log.warn('ovi: skipped a saved record (' + s.where + ')' + (s.taskUUID ? ' of task ' + s.taskUUID : '') + ': ' + s.reason);
    if (skipped.length > 0) log.warn('ovi: ' + skipped.length + ' saved record(s) in ' + store.description + ' skipped as damaged or unreadable');
    if (state) {
      this.budget.restore(state.costTotal);
      const startAt = Date.now() + RESUME_DELAY_MS;
      let resumed = 0;
      for (const job of state.jobs) {
        if (this.closed || this.hub.get(job.taskUUID)) continue;
        try {
          this.resumeJob(job, startAt);
          resumed++;
        } catch (e) {
          log.warn('ovi: task ' + job.taskUUID + ' could not be resumed: ' + stackOf(e));
          const rec = this.hub.get(job.taskUUID);
          if (rec) this.hub.fail(rec, resumeError(job.taskUUID, e instanceof Error ? e.message : String(e)));
          else this.failDamaged(job.taskUUID, e instanceof Error ? e.message : String(e));
        }
      }
      if (resumed > 0) log.warn('ovi: resumed ' + resumed + ' task(s) in flight from ' + store.description);
    }
    for (const s of skipped) if (s.taskUUID && !this.closed && !this.hub.get(s.taskUUID)) this.failDamaged(s.taskUUID, s.reason);
  }

  private resumeJob(job: PersistedJob, startAt: number): void {
    const rec: JobRecord = { ...job, delivered: [...job.delivered], failed: [...(job.failed ?? [])], done: false, resumed: true };
    this.budget.carry(rec);
    this.hub.add(rec);
    if (rec.state === 'running') {
      this.active++;
      if (rec.via !== 'custom') this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING, startAt);
    } else {
      // A rejection here would be unhandled (and end the process): it fails the task instead.
      this.resend(rec).catch((e: unknown) => this.hub.fail(rec, resumeError(rec.taskUUID, e instanceof Error ? e.message : String(e))));
    }
  }

  /** A record too damaged to resume: its task may run at Runware, so say so through Catch nodes. */
  private failDamaged(uuid: string, reason: string): void {
    const now = Date.now();
    const rec: JobRecord = {
      taskUUID: uuid,
      numberResults: 1,
      outputFormat: 'MP4',
      via: 'poll',
      msg: {},
      createdAt: now,
      deadline: now + 60_000,
      delivered: [],
      failed: [],
      done: false,
      resumed: true,
    };
    this.hub.add(rec);
    this.hub.fail(
      rec,
      resumeError(uuid, 'its saved record is damaged (' + reason + '); it may still be running at Runware: send {taskUUID} to an ovi poll node to collect it'),
    );
  }

  private async resend(rec: JobRecord): Promise<void> {
    // Interrupted before its acknowledgment was saved: its submit may have arrived (a record saved
    // as queued can already have been sent: the send does not wait for a write), so look first.
    const mayExist = true;
    if (!rec.wire) {
      this.hub.fail(
        rec,
        new OviError({ code: 'protocol', message: 'task ' + rec.taskUUID + ' was interrupted before it was sent and cannot be resent', retryable: false }),
      );
      return;
    }
    rec.state = 'queued';
    const task = parseLossless(rec.wire) as WireTask;
    if (typeof task.webhookURL === 'string' && task.webhookURL.includes(TOKEN_SLOT)) {
      const token = rec.ownerId ? this.opts.webhookToken?.(rec.ownerId) : undefined;
      if (!token) {
        const message = 'task ' + rec.taskUUID + ' was waiting to be resent, but its ovi webhook node has no token any more: not sent';
        this.hub.fail(rec, new OviError({ code: 'validation', parameter: 'webhookURL', message, retryable: false }));
        return;
      }
      task.webhookURL = task.webhookURL.replace(TOKEN_SLOT, encodeURIComponent(token));
    }
    if (typeof task.seed === 'string' && /^\d{1,19}$/.test(task.seed)) task.seed = BigInt(task.seed);
    try {
      await this.acquire(rec);
      await this.send(rec, task, mayExist);
      if (rec.via !== 'custom') this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING, Date.now() + RESUME_DELAY_MS);
    } catch (e) {
      const err = e as OviError;
      if (err.code !== 'cancelled') this.hub.fail(rec, err instanceof OviError ? err : new OviError({ code: 'internal', message: String(e) }));
    }
  }

  /** Start polling a recorded task (now, or at the given time). */
  poll(uuid: string, timing: PollTiming = DEFAULT_TIMING, startAt?: number): void {
    this.scheduler.watch(uuid, timing, startAt);
  }

  addSink(id: string, sink: Sink, kind: SinkKind): void {
    this.hub.addSink(id, sink, kind);
  }

  removeSink(id: string, sink: Sink): void {
    this.hub.removeSink(id, sink);
  }

  /** Stop all work and make sure the store holds everything in flight (queued jobs included). */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.inFlight) c.abort();
    this.inFlight.clear();
    this.queue.length = 0; // their records are persisted as queued: the next instance sends them
    this.listeners.clear();
    this.observers.clear();
    this.reporters.clear();
    this.scheduler.close();
    this.hub.close();
    this.client.close();
    await this.persister.flush();
  }
}

function resumeError(uuid: string, why: string): OviError {
  return new OviError({ code: 'protocol', message: 'task ' + uuid + ' could not be resumed after a restart: ' + why, retryable: false });
}

/** What the store keeps of a record: no parked outcomes, no in-memory flags. */
function toPersisted(rec: JobRecord): PersistedJob {
  const { parked: _p, done: _d, unclaimedAt: _u, notFoundAt: _n, ...job } = rec;
  return job;
}
