/**
 * Durable jobs: what an account must remember across redeploys and restarts (tasks in flight, their
 * correlation snapshot, results already emitted, the cost total). Two stores: a JSON file in
 * Node-RED's userDir written atomically (default), or a named Node-RED context store (e.g. a shared
 * Redis-backed one for several instances). Writes are group-committed: every change waits for a
 * write that began after it, so a burst of 1,000 submits costs a few writes, not 1,000.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import type { JobRecord } from './job-hub';

export type PersistedJob = Omit<JobRecord, 'parked' | 'done'>;

export interface PersistedState {
  version: 1;
  jobs: PersistedJob[];
  costTotal: number;
}

export interface StateStore {
  readonly description: string;
  load(): Promise<PersistedState | undefined>;
  save(state: PersistedState): Promise<void>;
}

function isState(v: unknown): v is PersistedState {
  const s = v as PersistedState | null;
  return !!s && typeof s === 'object' && s.version === 1 && Array.isArray(s.jobs) && typeof s.costTotal === 'number';
}

export class FileStore implements StateStore {
  constructor(readonly file: string) {}

  get description(): string {
    return 'file ' + this.file;
  }

  async load(): Promise<PersistedState | undefined> {
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch {
      return undefined;
    }
    const parsed: unknown = JSON.parse(text);
    return isState(parsed) ? parsed : undefined;
  }

  async save(state: PersistedState): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = this.file + '.' + randomBytes(4).toString('hex') + '.tmp';
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify(state));
      await handle.sync(); // survive a power cut, not only a SIGKILL
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, this.file);
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

  load(): Promise<PersistedState | undefined> {
    return new Promise((resolve, reject) =>
      this.context.get(this.key, this.store, (err, value) => (err ? reject(err) : resolve(isState(value) ? value : undefined))),
    );
  }

  save(state: PersistedState): Promise<void> {
    return new Promise((resolve, reject) => this.context.set(this.key, state, this.store, (err) => (err ? reject(err) : resolve())));
  }
}

/** No persistence (used when Node-RED has no userDir, e.g. in unit tests). */
export class MemoryStore implements StateStore {
  private state?: PersistedState;
  readonly description = 'memory';
  async load(): Promise<PersistedState | undefined> {
    return this.state;
  }
  async save(state: PersistedState): Promise<void> {
    this.state = JSON.parse(JSON.stringify(state)) as PersistedState;
  }
}

/** Group commit over a store: persist() resolves once a write containing the caller's change is done. */
export class Persister {
  private writing?: Promise<void>;
  private dirty = false;
  private waiters: Array<() => void> = [];
  readonly stats = { writes: 0, failures: 0 };

  constructor(
    private readonly store: StateStore,
    private readonly snapshot: () => PersistedState,
    private readonly onError: (e: unknown) => void,
  ) {}

  persist(): Promise<void> {
    this.dirty = true;
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.kick();
    });
  }

  /** Wait for everything requested so far to be written. */
  async flush(): Promise<void> {
    if (this.dirty || this.writing) await this.persist();
  }

  private kick(): void {
    if (this.writing || !this.dirty) return;
    this.dirty = false;
    const waiters = this.waiters.splice(0);
    const state = this.snapshot();
    this.stats.writes++;
    this.writing = this.store
      .save(state)
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
