/**
 * Durable jobs: what an account must remember across redeploys and restarts (tasks in flight, their
 * correlation snapshot, results already emitted, the cost total). Stores:
 *  - FileStore (default): an append-only journal in Node-RED's userDir, one JSON op per line, fsynced;
 *    compacted (rewritten atomically) once it is mostly history. A change costs O(that change), so
 *    10,000 jobs in flight do not mean rewriting megabytes per submit.
 *  - ContextStore: a named Node-RED context store (e.g. a shared Redis-backed one for several
 *    instances); it stores the whole state per write.
 *  - MemoryStore: no persistence (no userDir, e.g. unit tests).
 * Writes are group-committed: every change waits for a write that began after it.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import type { JobRecord } from './job-hub';

export type PersistedJob = Omit<JobRecord, 'parked' | 'done' | 'unclaimedAt' | 'notFoundAt'>;

export interface Skipped {
  taskUUID?: string;
  reason: string;
  where: string;
}
export interface LoadReport {
  state?: PersistedState;
  skipped: Skipped[];
  problem?: string;
}

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

export interface StateStore {
  readonly description: string;
  load(): Promise<LoadReport>;
  /** Persist these changes; `state` gives the whole state (or just its size) for stores that rewrite it. */
  write(ops: Op[], state: StateAccess): Promise<void>;
}

function isState(v: unknown): v is PersistedState {
  const s = v as PersistedState | null;
  return !!s && typeof s === 'object' && s.version === 1 && Array.isArray(s.jobs) && typeof s.costTotal === 'number';
}

function apply(jobs: Map<string, PersistedJob>, state: { costTotal: number }, op: Op): void {
  if (op.op === 'put') jobs.set(op.job.taskUUID, op.job);
  else if (op.op === 'del') jobs.delete(op.taskUUID);
  else if (op.op === 'cost') state.costTotal = op.total;
}

export class FileStore implements StateStore {
  private lines = 0; // journal lines since the last compaction

  constructor(readonly file: string) {}

  get description(): string {
    return 'file ' + this.file;
  }

  async load(): Promise<LoadReport> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch {
      return { skipped: [] };
    }
    const jobs = new Map<string, PersistedJob>();
    const state = { costTotal: 0 };
    for (const line of text.split('\n')) {
      if (!line) continue;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // a line cut short by a crash mid-append: everything before it stands
      }
      if (isState(entry)) {
        jobs.clear();
        for (const j of entry.jobs) jobs.set(j.taskUUID, j);
        state.costTotal = entry.costTotal;
      } else if (entry && typeof entry === 'object' && 'op' in entry) apply(jobs, state, entry as Op);
      this.lines++;
    }
    return { state: { version: 1, jobs: [...jobs.values()], costTotal: state.costTotal }, skipped: [] };
  }

  async write(ops: Op[], state: StateAccess): Promise<void> {
    // Mostly history by now: rewrite it as one snapshot line.
    if (this.lines + ops.length > 2 * state.live() + 1000) return this.compact(state.snapshot());
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const handle = await fs.open(this.file, 'a');
    try {
      await handle.writeFile(ops.map((o) => JSON.stringify(o)).join('\n') + '\n');
      await handle.sync(); // survive a power cut, not only a SIGKILL
    } finally {
      await handle.close();
    }
    this.lines += ops.length;
  }

  private async compact(state: PersistedState): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = this.file + '.' + randomBytes(4).toString('hex') + '.tmp';
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(state) + '\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, this.file);
    this.lines = 1;
  }
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
    return new Promise((resolve, reject) =>
      this.context.get(this.key, this.store, (err, value) => (err ? reject(err) : resolve({ state: isState(value) ? value : undefined, skipped: [] }))),
    );
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

/** Group commit: persist(uuid) resolves once a write containing that change is done. */
export class Persister {
  private writing?: Promise<void>;
  private readonly dirty = new Set<string>();
  private costDirty = false;
  private waiters: Array<() => void> = [];
  readonly stats = { writes: 0, failures: 0 };

  constructor(
    private readonly store: StateStore,
    private readonly lookup: (uuid: string) => PersistedJob | undefined,
    private readonly cost: () => number,
    private readonly state: StateAccess,
    private readonly onError: (e: unknown) => void,
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

  /** Wait for everything requested so far to be written. */
  async flush(): Promise<void> {
    while (this.writing || this.dirty.size > 0 || this.costDirty) {
      if (this.writing) await this.writing;
      else this.kick();
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
    this.writing = this.store
      .write(ops, this.state)
      .catch((e: unknown) => {
        this.stats.failures++;
        this.onError(e);
      })
      .finally(() => {
        this.writing = undefined;
        for (const w of waiters) w();
        this.kick();
      });
  }
}
