/**
 * The tasks in flight of one account (config node): recorded BEFORE the submit goes out, so a result
 * that beats the acknowledgment (a fast webhook) still finds the submitting msg's properties.
 * Results from any source (poll or webhook) pass through ingest(), which dedupes by videoUUID and
 * hands each new one to the node that owns the task: every result leaves exactly once.
 */
import { OviError, familyOf } from './errors';
import { Envelope, ResultItem, RunwareErrorItem, errorFromItem } from './runware-client';

export type Via = 'poll' | 'webhook';

export interface JobRecord {
  taskUUID: string;
  numberResults: number;
  steps?: number; // with hasImage: what the poll policy's render-time model keys on
  hasImage?: boolean;
  outputFormat: string;
  via: Via;
  ownerId?: string; // the node (ovi-poll or ovi-webhook) whose output carries the results
  submitterId?: string;
  msg: Record<string, unknown>; // the submitting msg's properties, JSON-safe, no payload
  createdAt: number;
  deadline: number; // epoch ms
  pollFrom?: number; // webhook mode: when to fall back to polling (epoch ms)
  delivered: string[]; // videoUUIDs already emitted
  done: boolean;
  /** queued: waiting for a slot; submitting: the HTTP submit may or may not have reached Runware; running: acknowledged. */
  state?: 'queued' | 'submitting' | 'running';
  /** The task as JSON (lossless), kept until acknowledged so a restart can resend it under the same UUID. */
  wire?: string;
  /** Loaded from the store after a restart or redeploy: its submitting msg is gone. */
  resumed?: boolean;
  /** Poll mode: outcomes that arrived before an ovi poll node claimed the task, replayed on claim. */
  parked?: Parked[];
}

export type Parked = { kind: 'result'; item: ResultItem; index: number } | { kind: 'failure'; err: OviError };

export interface ProgressInfo {
  progress?: number;
  status?: string;
}

/** A node that emits results: the hub calls it for the records it owns. */
export interface Sink {
  result(rec: JobRecord, item: ResultItem, index: number): void;
  failure(rec: JobRecord, err: OviError): void;
  progress?(rec: JobRecord, info: ProgressInfo): void;
}

export type IngestOutcome = 'delivered' | 'duplicate' | 'pending' | 'unknown';

export interface HubEvents {
  /** A record finished (all results, a failure or the deadline): stop polling, free its slot. */
  finished(rec: JobRecord): void;
  /** A record has no sink to deliver to. */
  orphan(rec: JobRecord, what: string): void;
  /** Something worth persisting changed for this record (a result emitted, or it finished). */
  changed(rec: JobRecord): void;
  /** A result reported its cost. */
  cost(amount: number): void;
  /** A resumed task's owner is gone: its results leave from another ovi poll node. */
  rerouted(rec: JobRecord, toId: string): void;
}

export type SinkKind = 'poll' | 'webhook';

const SUCCESS = new Set(['success', 'completed', 'succeeded', 'done']);
const FAILURE = new Set(['error', 'failed', 'failure']);

export function classify(item: ResultItem): 'success' | 'failure' | 'pending' {
  const status = typeof item.status === 'string' ? item.status.toLowerCase() : undefined;
  if (status ? SUCCESS.has(status) : typeof item.videoURL === 'string' || typeof item.videoUUID === 'string') return 'success';
  if (status && FAILURE.has(status)) return 'failure';
  return 'pending';
}

/** Grace for "task not found": right after a submit, Runware may not know the task yet. */
export const NOT_FOUND_GRACE_MS = 60_000;
const FINISHED_MEMORY = 10_000;
/** How long finished, unclaimed poll-mode outcomes wait for an ovi poll node. */
export const UNCLAIMED_TTL_MS = 10 * 60_000;

export class JobHub {
  private readonly records = new Map<string, JobRecord>();
  private readonly sinks = new Map<string, { sink: Sink; kind: SinkKind }>();
  private readonly unclaimed = new Map<string, { rec: JobRecord; until: number }>();
  /** Tasks that finished lately: a webhook redelivery for them is a duplicate, not a stranger. */
  private readonly finished = new Map<string, true>();
  private deadlineTimer?: NodeJS.Timeout;
  private armedFor = Infinity; // the deadline the timer is set for

  constructor(private readonly events: HubEvents) {}

  get(uuid: string): JobRecord | undefined {
    return this.records.get(uuid);
  }

  get size(): number {
    return this.records.size;
  }

  add(rec: JobRecord): void {
    this.records.set(rec.taskUUID, rec);
    // O(1) unless this deadline is the earliest: 10,000 adds must not rescan 10,000 records each.
    if (rec.deadline < this.armedFor) this.armDeadlines();
  }

  /** Forget a record that never started (its submit failed before Runware accepted it). */
  drop(uuid: string): void {
    this.records.delete(uuid);
  }

  /**
   * An ovi poll node takes a task: from now on its results leave from that node. Outcomes parked
   * before the claim are replayed to it at once. Returns undefined for a task this account never saw.
   */
  claim(uuid: string, ownerId: string, deadline?: number): JobRecord | undefined {
    const late = this.unclaimed.get(uuid);
    const rec = this.records.get(uuid) ?? late?.rec;
    if (!rec) return undefined;
    this.unclaimed.delete(uuid);
    const changed = rec.ownerId !== ownerId;
    rec.ownerId = ownerId;
    // Persist the owner: after a restart, results must leave from the node that claimed the task.
    if (changed && !rec.done) this.events.changed(rec);
    if (deadline !== undefined && !rec.done) {
      rec.deadline = deadline;
      if (deadline < this.armedFor) this.armDeadlines();
    }
    const entry = this.sinks.get(ownerId);
    if (entry) this.replay(rec, entry.sink);
    return rec;
  }

  private replay(rec: JobRecord, sink: Sink): void {
    for (const p of rec.parked?.splice(0) ?? []) {
      if (p.kind === 'result') sink.result(rec, p.item, p.index);
      else sink.failure(rec, p.err);
    }
    if (rec.done) this.unclaimed.delete(rec.taskUUID);
  }

  /** Every record not finished yet, for persistence. */
  all(): JobRecord[] {
    return [...this.records.values()];
  }

  /** A node that emits results registers here; outcomes parked for it (e.g. after a restart) are replayed. */
  addSink(id: string, sink: Sink, kind: SinkKind): void {
    this.sinks.set(id, { sink, kind });
    for (const rec of [...this.records.values(), ...[...this.unclaimed.values()].map((u) => u.rec)]) {
      if (!rec.parked || rec.parked.length === 0) continue;
      // A resumed poll-mode task that no ovi poll node had claimed before the restart (queued, or
      // claimed too late to be saved): the msg that would have claimed it died with the old process.
      if (kind === 'poll' && rec.resumed && rec.via === 'poll' && !rec.ownerId) rec.ownerId = id;
      if (rec.ownerId === id) this.replay(rec, sink);
    }
  }

  removeSink(id: string, sink: Sink): void {
    if (this.sinks.get(id)?.sink === sink) this.sinks.delete(id);
  }

  /** Take in what Runware reported for one task (a getResponse answer or a webhook body). */
  ingest(uuid: string, env: Envelope): IngestOutcome {
    const rec = this.records.get(uuid);
    if (!rec) return this.finished.has(uuid) ? 'duplicate' : 'unknown';
    if (rec.done) return 'duplicate';
    let outcome: IngestOutcome = 'pending';
    for (const item of env.data) {
      const kind = classify(item);
      if (kind === 'success') {
        const id = typeof item.videoUUID === 'string' ? item.videoUUID : typeof item.videoURL === 'string' ? item.videoURL : 'result-' + rec.delivered.length;
        if (rec.delivered.includes(id)) {
          if (outcome === 'pending') outcome = 'duplicate';
          continue;
        }
        rec.delivered.push(id);
        if (typeof item.cost === 'number' && Number.isFinite(item.cost) && item.cost > 0) this.events.cost(item.cost);
        const index = rec.delivered.length - 1;
        this.emit(rec, (s) => s.result(rec, item, index), 'a result', { kind: 'result', item, index });
        outcome = 'delivered';
        this.events.changed(rec);
        if (rec.delivered.length >= rec.numberResults) {
          this.finish(rec);
          return outcome;
        }
      } else if (kind === 'failure') {
        this.fail(rec, errorFromItem({ ...(item as RunwareErrorItem), taskUUID: uuid }));
        return 'delivered';
      } else {
        const sink = rec.ownerId ? this.sinks.get(rec.ownerId)?.sink : undefined;
        sink?.progress?.(rec, { progress: typeof item.progress === 'number' ? item.progress : undefined, status: item.status });
      }
    }
    for (const e of env.errors) {
      if ((e as { transient?: boolean }).transient) continue; // a failed poll request, not a verdict on the task
      const family = familyOf(e.code);
      if (family === 'notFound' && Date.now() - rec.createdAt < NOT_FOUND_GRACE_MS) continue;
      this.fail(rec, errorFromItem({ ...e, taskUUID: uuid }));
      return 'delivered';
    }
    return outcome;
  }

  fail(rec: JobRecord, err: OviError): void {
    if (rec.done) return;
    err.taskUUID = rec.taskUUID;
    this.finish(rec);
    this.emit(rec, (s) => s.failure(rec, err), 'a failure (' + err.code + ': ' + err.message + ')', { kind: 'failure', err });
  }

  private finish(rec: JobRecord): void {
    rec.done = true;
    this.records.delete(rec.taskUUID);
    this.finished.set(rec.taskUUID, true);
    if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.keys().next().value as string);
    if (rec.parked && rec.parked.length > 0) this.unclaimed.set(rec.taskUUID, { rec, until: Date.now() + UNCLAIMED_TTL_MS });
    this.events.changed(rec);
    this.sweepUnclaimed();
    this.events.finished(rec);
  }

  private emit(rec: JobRecord, call: (s: Sink) => void, what: string, parked: Parked): void {
    let sink = rec.ownerId ? this.sinks.get(rec.ownerId)?.sink : undefined;
    if (!sink && rec.resumed && (rec.ownerId || rec.via === 'poll')) {
      // The node that owned this task before the restart is gone, or no node had claimed it yet
      // (its msg died with the old process): any ovi poll of this account will do.
      const fallback = [...this.sinks.entries()].find(([, e]) => e.kind === 'poll');
      if (fallback) {
        this.events.rerouted(rec, fallback[0]);
        rec.ownerId = fallback[0];
        sink = fallback[1].sink;
      }
    }
    if (sink) call(sink);
    else if ((rec.via === 'poll' && !rec.ownerId) || rec.resumed) (rec.parked ??= []).push(parked);
    else this.events.orphan(rec, what);
  }

  private sweepUnclaimed(): void {
    const now = Date.now();
    for (const [uuid, u] of this.unclaimed) {
      if (u.until > now) continue;
      this.unclaimed.delete(uuid);
      this.events.orphan(u.rec, 'finished ' + (u.rec.parked?.length ?? 0) + ' outcome(s) ' + Math.round(UNCLAIMED_TTL_MS / 60000) + ' min ago');
    }
  }

  /** One timer for the earliest deadline of all records (a timer that fires early just re-arms). */
  private armDeadlines(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    let next = Infinity;
    for (const r of this.records.values()) if (!r.done && r.deadline < next) next = r.deadline;
    this.armedFor = next;
    if (next === Infinity) return;
    const delay = Math.max(0, Math.min(next - Date.now(), 2 ** 31 - 1));
    this.deadlineTimer = setTimeout(() => this.expire(), delay);
    this.deadlineTimer.unref?.();
  }

  private expire(): void {
    const now = Date.now();
    this.sweepUnclaimed();
    for (const r of [...this.records.values()]) {
      if (!r.done && r.deadline <= now) {
        const mins = Math.round((r.deadline - r.createdAt) / 600) / 100;
        this.fail(
          r,
          new OviError({
            code: 'timeout',
            message:
              'no result within the deadline (' +
              mins +
              ' min). The task may still finish: send {taskUUID: "' +
              r.taskUUID +
              '"} to an ovi poll node to collect it; do not resubmit (that starts a second paid job).',
            taskUUID: r.taskUUID,
            retryable: false,
          }),
        );
      }
    }
    this.armDeadlines();
  }

  close(): void {
    this.unclaimed.clear();
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }
}
