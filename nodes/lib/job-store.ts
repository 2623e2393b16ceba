/**
 * Durable jobs: what an account must remember across redeploys and restarts (tasks in flight, their
 * correlation snapshot, results already emitted, the cost total). Stores:
 *  - FileStore (default, file-store.ts): an append-only journal in Node-RED's userDir with a checksum
 *    per record, large fields in side files, fsynced, compacted once it is mostly history. A change
 *    costs O(that change), so 10,000 jobs in flight do not mean rewriting megabytes per submit.
 *  - ContextStore: a named Node-RED context store (e.g. a shared Redis-backed one for several
 *    instances); it stores the whole state per write.
 *  - MemoryStore: no persistence (no userDir, e.g. unit tests).
 * Whatever a store reads back is untrusted: every job is validated (job-validate.ts), a bad one is
 * skipped and reported, never thrown. Writes are group-committed: every change waits for a write
 * that began after it.
 */
import type { JobRecord } from './job-hub';
import { costProblem, validateJob } from './job-validate';

export { FileStore, MAX_RECORD_BYTES } from './file-store';
export type { FileStoreOptions } from './file-store';

export type PersistedJob = Omit<JobRecord, 'parked' | 'done'>;

export interface PersistedState {
  version: 1;
  jobs: PersistedJob[];
  costTotal: number;
}

export type Op = { op: 'put'; job: PersistedJob } | { op: 'del'; taskUUID: string } | { op: 'cost'; total: number };

export interface StateAccess {
  snapshot(): PersistedState;
  live(): number; // jobs in flight, cheaply
}

/** A saved record that was not used: where it was (e.g. "line 12", "side file <name>"), why, and its task when known. */
export interface Skipped {
  taskUUID?: string;
  reason: string;
  where: string;
}

/** What a store read back. problem: the whole store could not be read (e.g. renamed aside to ...). */
export interface LoadReport {
  state?: PersistedState;
  skipped: Skipped[];
  problem?: string;
}

export interface StateStore {
  readonly description: string;
  /** Never rejects: what cannot be read is reported. */
  load(): Promise<LoadReport>;
  /** Persist these changes; `state` gives the whole state (or just its size) for stores that rewrite it. */
  write(ops: Op[], state: StateAccess): Promise<void>;
}

/** A whole state held as one value (a context store): each job and the cost total checked on its own. */
export function stateFrom(value: unknown, where: string): LoadReport {
  const skipped: Skipped[] = [];
  const v = value as { version?: unknown; jobs?: unknown; costTotal?: unknown } | null | undefined;
  if (v === undefined || v === null) return { skipped };
  if (typeof v !== 'object' || v.version !== 1 || !Array.isArray(v.jobs))
    return { skipped, problem: where + ' holds something that is not a saved job state: nothing resumed (it is replaced at the next save)' };
  const jobs: PersistedJob[] = [];
  v.jobs.forEach((j: unknown, i) => {
    const check = validateJob(j);
    if (check.ok) jobs.push(check.job);
    else skipped.push({ where: where + ', job ' + (i + 1), reason: check.reason, ...(check.taskUUID ? { taskUUID: check.taskUUID } : {}) });
  });
  const wrongCost = costProblem(v.costTotal);
  if (wrongCost) skipped.push({ where: where + ', cost total', reason: wrongCost + ': counting starts again from 0' });
  return { state: { version: 1, jobs, costTotal: wrongCost ? 0 : (v.costTotal as number) }, skipped };
}

/** The slice of a Node-RED node context that the store needs. */
export interface ContextLike {
  get(key: string, store: string, cb: (err: Error | null, value: unknown) => void): void;
  set(key: string, value: unknown, store: string, cb: (err?: Error | null) => void): void;
}

export class ContextStore implements StateStore {
  constructor(
    private readonly context: ContextLike,
    private readonly store: string,
    private readonly key: string,
  ) {}

  get description(): string {
    return 'context store "' + this.store + '"';
  }

  load(): Promise<LoadReport> {
    const where = this.description + ', key "' + this.key + '"';
    return new Promise((resolve) => {
      try {
        this.context.get(this.key, this.store, (err, value) =>
          resolve(err ? { skipped: [], problem: where + ' could not be read: ' + err.message } : stateFrom(value, where)),
        );
      } catch (e) {
        resolve({ skipped: [], problem: where + ' could not be read: ' + (e instanceof Error ? e.message : String(e)) });
      }
    });
  }

  write(_ops: Op[], access: StateAccess): Promise<void> {
    const state = access.snapshot();
    return new Promise((resolve, reject) => this.context.set(this.key, state, this.store, (err) => (err ? reject(err) : resolve())));
  }
}

export class MemoryStore implements StateStore {
  readonly description = 'memory';
  async load(): Promise<LoadReport> {
    return { skipped: [] };
  }
  async write(): Promise<void> {
    // nothing survives the process: used only where Node-RED has no userDir
  }
}

export interface PersisterOptions {
  /** Write failures are reported at most this often, with their count (default: once a minute). */
  warnEveryMs?: number;
}

/**
 * Group commit: persist(uuid) resolves once a write containing that change is done. Availability
 * first: a failed write (a full disk) never rejects persist(); its changes stay pending and go with
 * the next write, and failures are reported at most once a minute with their count.
 */
export class Persister {
  private writing?: Promise<void>;
  private readonly dirty = new Set<string>();
  private costDirty = false;
  private waiters: Array<() => void> = [];
  readonly stats = { writes: 0, failures: 0 };
  private unreported = 0; // failures since the last warning
  private lastError: unknown;
  private warnedAt = -Infinity;
  private warnTimer?: NodeJS.Timeout;

  constructor(
    private readonly store: StateStore,
    private readonly lookup: (uuid: string) => PersistedJob | undefined,
    private readonly cost: () => number,
    private readonly state: StateAccess,
    private readonly onError: (e: unknown) => void,
    private readonly options: PersisterOptions = {},
  ) {}

  /** A job changed (or is gone, when lookup no longer finds it); no uuid: the cost total changed. */
  persist(uuid?: string): Promise<void> {
    if (uuid === undefined) this.costDirty = true;
    else this.dirty.add(uuid);
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.kick();
    });
  }

  /** Wait for everything requested so far to be written (or to fail twice: a dead disk must not hold a close). */
  async flush(): Promise<void> {
    let failures = 0;
    while (failures < 2) {
      if (this.writing) {
        const before = this.stats.failures;
        await this.writing;
        if (this.stats.failures > before) failures++;
      } else if (this.dirty.size > 0 || this.costDirty) this.kick();
      else return;
    }
  }

  private kick(): void {
    if (this.writing || (this.dirty.size === 0 && !this.costDirty)) return;
    const ops: Op[] = [];
    for (const uuid of this.dirty) {
      const job = this.lookup(uuid);
      ops.push(job ? { op: 'put', job } : { op: 'del', taskUUID: uuid });
    }
    if (this.costDirty) ops.push({ op: 'cost', total: this.cost() });
    this.dirty.clear();
    this.costDirty = false;
    const waiters = this.waiters.splice(0);
    this.stats.writes++;
    let failed = false;
    this.writing = this.store
      .write(ops, this.state)
      .catch((e: unknown) => {
        failed = true;
        // Still to be written: the next write takes them again (from the state as it is then).
        for (const op of ops) {
          if (op.op === 'put') this.dirty.add(op.job.taskUUID);
          else if (op.op === 'del') this.dirty.add(op.taskUUID);
          else this.costDirty = true;
        }
        this.failed(e);
      })
      .finally(() => {
        this.writing = undefined;
        for (const w of waiters) w();
        // After a failure, wait for the next change (or flush) to try again: no busy loop on a full disk.
        if (failed) for (const w of this.waiters.splice(0)) w();
        else this.kick();
      });
  }

  private failed(e: unknown): void {
    this.stats.failures++;
    this.unreported++;
    this.lastError = e;
    const every = this.options.warnEveryMs ?? 60_000;
    const wait = this.warnedAt + every - Date.now();
    if (wait <= 0) this.warn(every);
    else if (!this.warnTimer) {
      // The rest of this minute's failures, reported when it is over (only a log line: it writes nothing).
      this.warnTimer = setTimeout(() => {
        this.warnTimer = undefined;
        if (this.unreported > 0) this.warn(every);
      }, wait);
      this.warnTimer.unref?.();
    }
  }

  private warn(every: number): void {
    const n = this.unreported;
    this.unreported = 0;
    this.warnedAt = Date.now();
    const period = every === 60_000 ? 'the last minute' : 'the last ' + every / 1000 + ' s';
    const last = this.lastError instanceof Error ? this.lastError.message : String(this.lastError);
    this.onError(new Error(n + (n === 1 ? ' failure' : ' failures') + ' in ' + period + ': ' + last));
  }
}
