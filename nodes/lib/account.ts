/**
 * Everything one Runware account (one ovi-config node) owns: the client, the tasks in flight and
 * their durable store, the poll scheduler, the concurrency cap with its FIFO queue, and the cost
 * total with its optional budget. No Node-RED imports: the config node is a thin shell around this.
 *
 * A job's life: recorded and persisted (queued) → a slot (submitting) → acknowledged (running) →
 * results or one failure (finished). A restart or redeploy reloads the store: running jobs resume
 * polling, queued or submitting ones are sent again under the same taskUUID (which cannot start a
 * second job: the client asks getResponse first, and Runware refuses a duplicate taskUUID).
 */
import { OviError } from './errors';
import { JobHub, JobRecord, Sink, SinkKind } from './job-hub';
import { MemoryStore, PersistedJob, PersistedState, Persister, StateStore } from './job-store';
import { parseLossless, stringifyLossless } from './lossless-json';
import { replaceToken } from './msg-snapshot';
import { DEFAULT_TIMING, Logger, PollScheduler, PollTiming } from './poll-scheduler';
import { ClientOptions, ResultItem, RunwareClient } from './runware-client';

export interface AccountOptions extends ClientOptions {
  maxConcurrent: number; // jobs submitting or running at once; 0 = no cap
  budget?: number; // USD; submits fail with a quota error once the cost total reaches it
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
}

type WireTask = Record<string, unknown> & { taskUUID: string };

const RESUME_DELAY_MS = 1000;

export class Account {
  readonly client: RunwareClient;
  readonly hub: JobHub;
  readonly scheduler: PollScheduler;
  private readonly queue: Waiting[] = [];
  private readonly persister: Persister;
  private active = 0; // records in state submitting or running
  private closed = false;
  // One controller per request in flight (a shared signal would collect a listener per request:
  // Node warns past 10 and scans the whole list on every add).
  private readonly inFlight = new Set<AbortController>();
  private costTotal = 0;
  private readonly listeners = new Set<() => void>();
  readonly ready: Promise<void>;

  constructor(private readonly opts: AccountOptions) {
    this.client = new RunwareClient(opts);
    this.hub = new JobHub({
      finished: (rec) => {
        this.scheduler.unwatch(rec.taskUUID);
        this.release(rec);
      },
      orphan: (rec, what) =>
        opts.logger.warn(
          'ovi: task ' + rec.taskUUID + ' has ' + what + ' but no ovi poll or ovi webhook node owns it (send its taskUUID to an ovi poll node to collect it)',
        ),
      changed: (rec) => void this.persister.persist(rec.taskUUID),
      cost: (amount) => {
        this.costTotal = Math.round((this.costTotal + amount) * 1e6) / 1e6;
        void this.persister.persist();
        this.changed();
      },
      rerouted: (rec, to) =>
        opts.logger.warn('ovi: the node that owned task ' + rec.taskUUID + ' is gone since the restart: its results leave from ovi poll ' + to),
    });
    this.scheduler = new PollScheduler(this.client, this.hub, opts.logger);
    const store = opts.store ?? new MemoryStore();
    this.persister = new Persister(
      store,
      (uuid) => this.persisted(uuid),
      () => this.costTotal,
      { snapshot: () => this.snapshot(), live: () => this.hub.size },
      (e) => opts.logger.warn('ovi: could not save jobs in flight to ' + store.description + ': ' + (e instanceof Error ? e.message : String(e))),
    );
    this.ready = this.resume(store).catch((e: unknown) =>
      opts.logger.warn('ovi: could not load jobs in flight from ' + store.description + ': ' + (e instanceof Error ? e.message : String(e))),
    );
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

  /** With a budget, every task must report its cost, or the total could not grow. */
  get tracksCost(): boolean {
    return this.opts.budget !== undefined && this.opts.budget > 0;
  }

  get cost(): { total: number; budget: number | null } {
    return { total: this.costTotal, budget: this.opts.budget ?? null };
  }

  private persisted(uuid: string): PersistedJob | undefined {
    const rec = this.hub.get(uuid);
    if (!rec || rec.done) return undefined;
    const { parked: _parked, done: _done, ...job } = rec;
    return job;
  }

  private snapshot(): PersistedState {
    const jobs = this.hub.all().map(({ parked: _parked, done: _done, ...rest }) => rest);
    return { version: 1, jobs, costTotal: this.costTotal };
  }

  private hasSlot(): boolean {
    return this.opts.maxConcurrent <= 0 || this.active < this.opts.maxConcurrent;
  }

  private occupy(rec: JobRecord): void {
    rec.state = 'submitting';
    this.active++;
    this.changed();
  }

  private release(rec: JobRecord): void {
    if (rec.state === 'submitting' || rec.state === 'running') this.active--;
    rec.state = undefined;
    this.pump();
  }

  /** FIFO: resolves once the record holds a slot. */
  private acquire(rec: JobRecord, onQueued?: () => void): Promise<void> {
    if (this.queue.length === 0 && this.hasSlot()) {
      this.occupy(rec);
      return Promise.resolve();
    }
    onQueued?.();
    return new Promise((start) => {
      this.queue.push({ rec, start });
      this.changed();
    });
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0 && this.hasSlot()) {
      const next = this.queue.shift() as Waiting;
      if (next.rec.done) continue; // its deadline passed while it queued: already failed, never sent
      this.occupy(next.rec); // reserved before it runs: two finishing jobs cannot start one waiter twice
      next.start();
    }
    this.changed();
  }

  /**
   * Record the job durably, wait for a slot, submit. The record exists before the HTTP request, so a
   * webhook that beats the acknowledgment is correlated and a crash mid-request loses nothing.
   * Without a record (results go to a custom URL) only the request is made.
   */
  async submit(task: WireTask, rec: JobRecord | undefined, onQueued?: () => void): Promise<ResultItem> {
    this.checkBudget(task.taskUUID);
    if (!rec) return this.withSignal((signal) => this.client.submit(task, signal));
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
    rec.state = 'queued';
    // The store is a plain file and the webhook token a credential: persist a placeholder for it.
    rec.wire = stringifyLossless(typeof task.webhookURL === 'string' ? { ...task, webhookURL: replaceToken(task.webhookURL, TOKEN_SLOT) } : task);
    this.hub.add(rec);
    await this.persister.persist(rec.taskUUID);
    await this.acquire(rec, onQueued);
    return this.send(rec, task);
  }

  private acknowledged(rec: JobRecord): void {
    rec.state = 'running';
    rec.wire = undefined;
    void this.persister.persist(rec.taskUUID);
  }

  private async send(rec: JobRecord, task: WireTask): Promise<ResultItem> {
    try {
      const ack = await this.withSignal((signal) => this.client.submit(task, signal));
      this.acknowledged(rec);
      return ack;
    } catch (e) {
      const err = e as OviError;
      // Resent after a restart and Runware already has it: the attempt before the restart got through.
      if (rec.resumed && err.rawCode === 'duplicateTaskUUID') {
        this.acknowledged(rec);
        return { taskType: 'videoInference', taskUUID: rec.taskUUID };
      }
      // An answer was lost and Runware could not tell us whether it has the task: keep the job and
      // let getResponse settle it (its results, or notFound after the grace period). Dropping it
      // could lose a job that runs and is billed, and invite a second submit.
      if (err.unconfirmed) {
        this.opts.logger.warn('ovi: task ' + rec.taskUUID + ' may have reached Runware (' + err.code + ': ' + err.message + '): polling to find out');
        rec.createdAt = Date.now();
        this.acknowledged(rec);
        this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING);
        return { taskType: 'videoInference', taskUUID: rec.taskUUID, status: 'unconfirmed' };
      }
      // Closing mid-request: the record stays (persisted as submitting) for the next instance.
      if (err.code !== 'cancelled') {
        this.hub.drop(rec.taskUUID);
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

  private checkBudget(taskUUID: string): void {
    const budget = this.opts.budget;
    if (budget !== undefined && budget > 0 && this.costTotal >= budget) {
      throw new OviError({
        code: 'quota',
        rawCode: 'budgetReached',
        taskUUID,
        retryable: false,
        message: 'the budget of $' + budget + ' set on the ovi-config node is reached ($' + this.costTotal + ' spent): nothing was sent',
      });
    }
  }

  /** After a restart or redeploy: take back the jobs in flight. One bad saved record never stops the others. */
  private async resume(store: StateStore): Promise<void> {
    const { state, skipped, problem } = await store.load();
    const log = this.opts.logger;
    if (problem) log.warn('ovi: JOB STORE PROBLEM: ' + problem);
    for (const s of skipped) log.warn('ovi: skipped a saved record (' + s.where + ')' + (s.taskUUID ? ' of task ' + s.taskUUID : '') + ': ' + s.reason);
    if (skipped.length > 0) log.warn('ovi: ' + skipped.length + ' saved record(s) in ' + store.description + ' skipped as damaged or unreadable');
    const fail = (rec: JobRecord, e: unknown) => {
      const message = `task ${rec.taskUUID} could not be resumed after a restart: ${e instanceof Error ? e.message : String(e)}`;
      this.hub.fail(rec, new OviError({ code: 'protocol', message, retryable: false }));
    };
    const damaged = (uuid: string, reason: string) => {
      if (this.closed || this.hub.get(uuid)) return;
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
        done: false,
        resumed: true,
      };
      const message = `task ${uuid} could not be resumed after a restart: its saved record is damaged (${reason}); it may still be running at Runware: send {taskUUID} to an ovi poll node to collect it`;
      this.hub.add(rec);
      this.hub.fail(rec, new OviError({ code: 'protocol', message, retryable: false }));
    };
    if (state) {
      this.costTotal = state.costTotal;
      const startAt = Date.now() + RESUME_DELAY_MS;
      let resumed = 0;
      for (const job of state.jobs) {
        if (this.closed || this.hub.get(job.taskUUID)) continue;
        const rec: JobRecord = { ...job, delivered: [...job.delivered], done: false, resumed: true };
        try {
          this.hub.add(rec);
          resumed++;
          if (rec.state === 'running') {
            this.active++;
            this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING, startAt);
          } else {
            this.resend(rec).catch((e: unknown) => fail(rec, e));
          }
        } catch (e) {
          log.warn('ovi: task ' + job.taskUUID + ' could not be resumed: ' + (e instanceof Error ? e.message : String(e)));
          if (this.hub.get(job.taskUUID) === rec) fail(rec, e);
        }
      }
      if (resumed > 0) log.warn('ovi: resumed ' + resumed + ' task(s) in flight from ' + store.description);
    }
    for (const s of skipped) if (s.taskUUID) damaged(s.taskUUID, s.reason);
  }

  private async resend(rec: JobRecord): Promise<void> {
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
    if (typeof task.seed === 'string') (task as Record<string, unknown>).seed = BigInt(task.seed);
    await this.acquire(rec);
    try {
      await this.send(rec, task);
      this.scheduler.watch(rec.taskUUID, DEFAULT_TIMING, Date.now() + RESUME_DELAY_MS);
    } catch (e) {
      const err = e as OviError;
      if (err.code !== 'cancelled') this.hub.fail(rec, err);
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
    this.scheduler.close();
    this.hub.close();
    this.client.close();
    await this.persister.flush();
  }
}
