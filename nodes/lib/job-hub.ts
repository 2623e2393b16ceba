/**
 * The tasks in flight of one account (config node): recorded BEFORE the submit goes out, so a result
 * that beats the acknowledgment (a fast webhook) still finds the submitting msg's properties.
 *
 * Outcomes are per generation: a task with numberResults N ends when each of its N generations has
 * an outcome (a result, or a failure), never at the first failure. Results from any source (a poll
 * answer or a webhook body) pass through ingest(), which dedupes them, so each leaves exactly once.
 *
 * Who emits (the ownership rule, README › Messages):
 *  1. an ovi poll that claimed the task (its taskUUID reached the node) — a claim wins;
 *  2. otherwise the ovi webhook node the task was submitted for (delivery "webhook node"), or the
 *     ovi webhook node that received the result;
 *  3. otherwise nobody yet: the outcome is parked for a later claim, and the submitting node reports
 *     an `unclaimed` error through Catch — at once when the account has no ovi poll at all, else after
 *     CLAIM_GRACE_MS. Parked outcomes stay retrievable by taskUUID (send it to an ovi poll).
 */
import { OviError } from './errors';
import { Envelope, ResultItem, RunwareErrorItem, errorFromItem } from './runware-client';

export type Via = 'poll' | 'webhook' | 'custom';

export interface JobRecord {
  taskUUID: string;
  numberResults: number;
  steps?: number; // with hasImage: what the poll policy's render-time model keys on
  hasImage?: boolean;
  outputFormat: string;
  /** poll: ovi poll nodes collect it; webhook: an ovi webhook node of ours; custom: a URL of the user's. */
  via: Via;
  ownerId?: string; // the node whose output carries the results (a claiming ovi poll, or an ovi webhook)
  claimed?: boolean; // ownerId is an ovi poll that claimed the task
  submitterId?: string;
  msg: Record<string, unknown>; // the submitting msg's properties, JSON-safe, no payload
  createdAt: number;
  deadline: number; // epoch ms
  pollFrom?: number; // webhook mode: when to fall back to polling (epoch ms)
  delivered: string[]; // ids (videoUUID, else URL) of the results emitted
  failed: string[]; // one key per failed generation (see failureKey)
  done: boolean;
  /** queued: waiting for a slot; submitting: the HTTP submit may or may not have reached Runware; running: acknowledged. */
  state?: 'queued' | 'submitting' | 'running';
  /** Runware acknowledged the task, or answered about it: it exists there. */
  acked?: boolean;
  /** The task as JSON (lossless), kept until acknowledged so a restart can resend it under the same UUID. */
  wire?: string;
  /** Loaded from the store after a restart or redeploy: its submitting msg is gone. */
  resumed?: boolean;
  /** USD held back from the budget for this task until its cost is known. */
  reserved?: number;
  /** Outcomes that arrived while no node could emit them, replayed on claim. Not persisted. */
  parked?: Parked[];
  /** When Runware first said it does not know this acknowledged task (a second answer confirms). */
  notFoundAt?: number;
  /** When to report parked outcomes as unclaimed (epoch ms); set once. */
  unclaimedAt?: number;
}

export type Parked = { kind: 'result'; item: ResultItem; index: number } | { kind: 'failure'; err: OviError; index: number } | { kind: 'settled' };

export interface ProgressInfo {
  progress?: number;
  status?: string;
}

/** A node that emits outcomes: the hub calls it for the records it owns. */
export interface Sink {
  result(rec: JobRecord, item: ResultItem, index: number): void;
  /** One failed generation (index 0..N-1). A failure of the task as a whole comes once per generation left. */
  failure(rec: JobRecord, err: OviError, index: number): void;
  /** Every generation has its outcome (after the last result or failure call). */
  settled?(rec: JobRecord): void;
  progress?(rec: JobRecord, info: ProgressInfo): void;
}

export type IngestOutcome = 'delivered' | 'duplicate' | 'pending' | 'unknown';

/** Where an answer came from: a poll answer is cumulative (the whole state); a webhook body is one delivery. */
export type Source = { via: 'poll' } | { via: 'webhook'; nodeId: string };
const POLLED: Source = { via: 'poll' };

export interface HubEvents {
  /** A record finished (every generation has an outcome): stop polling, free its slot. */
  finished(rec: JobRecord): void;
  /** Something the user should read in the log (never a secret). */
  notice(rec: JobRecord, text: string): void;
  /** Something worth persisting changed for this record (a result emitted, or it finished). */
  changed(rec: JobRecord): void;
  /** A result arrived: its cost as Runware reported it (raw, maybe absent; the budget judges it). */
  cost(amount: unknown, rec: JobRecord): void;
  /** A resumed task's owner is gone: its results leave from another ovi poll node. */
  rerouted(rec: JobRecord, toId: string): void;
  /** Outcomes wait and no node claimed them in time: report through the submitting node. */
  unclaimed(rec: JobRecord, err: OviError): void;
  /** A webhook brought a failure: poll the task once soon to learn the other generations' fate. */
  recheck(rec: JobRecord): void;
  /** For observers (the editor's sidebar): an outcome or progress, whoever emits it. */
  observed?(e: HubObservation): void;
}

export type HubObservation =
  | { kind: 'progress'; rec: JobRecord; progress?: number }
  | { kind: 'result'; rec: JobRecord; item: ResultItem; index: number }
  | { kind: 'failure'; rec: JobRecord; err: OviError; index: number };

export type SinkKind = 'poll' | 'webhook';

const SUCCESS = new Set(['success', 'completed', 'succeeded', 'done']);
const FAILURE = new Set(['error', 'failed', 'failure', 'cancelled', 'canceled']);

export function classify(item: ResultItem): 'success' | 'failure' | 'pending' {
  const status = typeof item.status === 'string' ? item.status.toLowerCase() : undefined;
  if (status && FAILURE.has(status)) return 'failure';
  if (!status && item.error !== null && typeof item.error === 'object') return 'failure';
  if (status ? SUCCESS.has(status) : typeof item.videoURL === 'string' || typeof item.videoUUID === 'string') return 'success';
  return 'pending';
}

/** Grace for "task not found" before Runware confirmed the task: right after a submit it may not know it yet. */
export const NOT_FOUND_GRACE_MS = 60_000;
/** An acknowledged task reported unknown is failed when a second answer, this much later, says so again. */
export const NOT_FOUND_CONFIRM_MS = 2_000;
const FINISHED_MEMORY = 10_000;
/** How long finished, unclaimed outcomes wait for an ovi poll node. */
export const UNCLAIMED_TTL_MS = 10 * 60_000;
/**
 * How long outcomes wait for a claim, when the account has ovi poll nodes, before `unclaimed` is
 * reported (env OVI_CLAIM_GRACE_S changes it, e.g. for a flow that delays msgs before its ovi poll).
 */
export const CLAIM_GRACE_MS = (Number(process.env.OVI_CLAIM_GRACE_S) > 0 ? Number(process.env.OVI_CLAIM_GRACE_S) : 30) * 1000;

/** Identity of a failed generation, so a cumulative answer that repeats it is not a new failure. */
function failureKey(err: OviError, item: Record<string, unknown>): string {
  const id = typeof item.videoUUID === 'string' ? item.videoUUID : '';
  return [err.rawCode ?? err.code, err.message, id].join('\u0001').slice(0, 400);
}

/** Identity of a result, to emit it once however often it is reported. */
export function resultId(item: ResultItem): string {
  if (typeof item.videoUUID === 'string' && item.videoUUID) return item.videoUUID;
  if (typeof item.videoURL === 'string' && item.videoURL) return item.videoURL.slice(0, 2048);
  return 'item:' + String(item.seed ?? ''); // neither id nor URL: its seed tells the results apart
}

/** A failed data item carries its error nested (`error: {code, message}`) or flat; read both. */
export function failureOf(item: RunwareErrorItem | ResultItem, uuid: string): OviError {
  const nested = item.error !== null && typeof item.error === 'object' && !Array.isArray(item.error) ? (item.error as RunwareErrorItem) : undefined;
  const merged: RunwareErrorItem = nested ? { ...item, ...nested } : { ...item };
  delete merged.error;
  return errorFromItem({ ...merged, taskUUID: uuid });
}

export class JobHub {
  private readonly records = new Map<string, JobRecord>();
  private readonly sinks = new Map<string, { sink: Sink; kind: SinkKind }>();
  /** Finished records whose outcomes still wait for a claim. */
  private readonly unclaimed = new Map<string, { rec: JobRecord; until: number }>();
  /** Records with parked outcomes, to report as unclaimed at rec.unclaimedAt. */
  private readonly waitingClaim = new Set<JobRecord>();
  /** Tasks that finished lately: a webhook redelivery for them is a duplicate, not a stranger. */
  private readonly finished = new Map<string, true>();
  private deadlineTimer?: NodeJS.Timeout;
  private armedFor = Infinity; // the deadline the timer is set for
  private claimTimer?: NodeJS.Timeout;

  constructor(private readonly events: HubEvents) {}

  get(uuid: string): JobRecord | undefined {
    return this.records.get(uuid);
  }

  get size(): number {
    return this.records.size;
  }

  /** A task this account recorded (in flight, or finished lately). */
  knows(uuid: string): boolean {
    return this.records.has(uuid) || this.finished.has(uuid) || this.unclaimed.has(uuid);
  }

  add(rec: JobRecord): void {
    this.records.set(rec.taskUUID, rec);
    // O(1) unless this deadline is the earliest: 10,000 adds must not rescan 10,000 records each.
    if (rec.deadline < this.armedFor) this.armDeadlines();
  }

  /** Forget a record that never started (its submit was refused before Runware could accept it). */
  drop(uuid: string): void {
    const rec = this.records.get(uuid);
    this.records.delete(uuid);
    if (rec) this.waitingClaim.delete(rec);
  }

  /**
   * An ovi poll node takes a task: from now on its outcomes leave from that node. Outcomes parked
   * before the claim are replayed to it at once. Returns undefined for a task this account never saw.
   */
  claim(uuid: string, ownerId: string, deadline?: number): JobRecord | undefined {
    const late = this.unclaimed.get(uuid);
    const rec = this.records.get(uuid) ?? late?.rec;
    if (!rec) return undefined;
    this.unclaimed.delete(uuid);
    this.waitingClaim.delete(rec);
    const changed = rec.ownerId !== ownerId || !rec.claimed;
    rec.ownerId = ownerId;
    rec.claimed = true;
    // Persist the owner: after a restart, outcomes must leave from the node that claimed the task.
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
      else if (p.kind === 'failure') sink.failure(rec, p.err, p.index);
      else sink.settled?.(rec);
    }
    this.waitingClaim.delete(rec);
    if (rec.done) this.unclaimed.delete(rec.taskUUID);
  }

  /** Every record not finished yet, for persistence. */
  all(): JobRecord[] {
    return [...this.records.values()];
  }

  hasSinkOfKind(kind: SinkKind): boolean {
    for (const e of this.sinks.values()) if (e.kind === kind) return true;
    return false;
  }

  /** A node that emits outcomes registers here; outcomes parked for it (e.g. after a restart) are replayed. */
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
  ingest(uuid: string, env: Envelope, source: Source = POLLED): IngestOutcome {
    const rec = this.records.get(uuid);
    if (!rec) {
      const late = this.unclaimed.get(uuid);
      // A webhook node receives a result that waits for a claim: it is the receiver, so it emits.
      if (late && source.via === 'webhook') this.adoptReceiver(late.rec, source.nodeId);
      return this.knows(uuid) ? 'duplicate' : 'unknown';
    }
    if (rec.done) return 'duplicate';
    const receiver = source.via === 'webhook' ? source.nodeId : undefined;
    if (receiver) this.adoptReceiver(rec, receiver);
    let outcome: IngestOutcome = 'pending';
    let pending = 0;
    const failures: Array<{ key: string; err: OviError }> = [];
    let notFound: RunwareErrorItem | undefined;

    for (const item of env.data) {
      const kind = classify(item);
      if (kind === 'success') {
        rec.acked = true;
        const id = resultId(item);
        if (rec.delivered.includes(id)) {
          if (outcome === 'pending') outcome = 'duplicate';
          continue;
        }
        rec.delivered.push(id);
        this.events.cost(item.cost, rec);
        const index = this.settledCount(rec) - 1;
        this.events.observed?.({ kind: 'result', rec, item, index });
        this.deliver(rec, (s) => s.result(rec, item, index), { kind: 'result', item, index });
        outcome = 'delivered';
        this.events.changed(rec);
      } else if (kind === 'failure') {
        rec.acked = true;
        const err = failureOf(item, uuid);
        failures.push({ key: failureKey(err, item), err });
      } else {
        rec.acked = true;
        pending++;
        const owner = rec.ownerId ? this.sinks.get(rec.ownerId)?.sink : undefined;
        const progress = typeof item.progress === 'number' && Number.isFinite(item.progress) ? item.progress : undefined;
        owner?.progress?.(rec, { progress, status: item.status });
        this.events.observed?.({ kind: 'progress', rec, progress });
      }
    }
    for (const e of env.errors) {
      if (e.transient) continue; // a failed poll request, not a verdict on the task
      const err = failureOf(e, uuid);
      if (err.code === 'notFound' && env.data.length === 0) {
        notFound = e;
        continue;
      }
      failures.push({ key: failureKey(err, e), err });
    }

    // Cumulative answers repeat failures already reported: only the surplus of each kind is new.
    let fresh = 0;
    const counts = new Map<string, number>();
    for (const f of failures) {
      const seen = (counts.get(f.key) ?? 0) + 1;
      counts.set(f.key, seen);
      if (seen <= rec.failed.filter((k) => k === f.key).length) continue;
      if (this.settledCount(rec) >= rec.numberResults) break;
      rec.failed.push(f.key);
      fresh++;
      this.failGeneration(rec, f.err);
      outcome = 'delivered';
    }
    if (fresh > 0) this.events.changed(rec);

    if (this.settledCount(rec) >= rec.numberResults) {
      this.finish(rec);
      return outcome;
    }
    if (failures.length > 0 && source.via === 'poll' && pending === 0) {
      // The whole state, nothing in progress, and generations missing: they failed with the task.
      this.failRest(rec, failures[failures.length - 1].err);
      return 'delivered';
    }
    if (fresh > 0 && source.via === 'webhook') this.events.recheck(rec);

    if (notFound) return this.notFound(rec, notFound, source) ?? outcome;
    if (env.data.length > 0 || failures.length > 0) rec.notFoundAt = undefined;
    return outcome;
  }

  /**
   * Runware says it does not know the task. Before any answer proved the task exists, that is
   * expected for a short while (a submit whose answer was lost may never have arrived): wait out the
   * grace. For an acknowledged task it is news: logged, and failed when a second answer confirms it.
   */
  private notFound(rec: JobRecord, item: RunwareErrorItem, source: Source): IngestOutcome | undefined {
    const now = Date.now();
    const err = failureOf(item, rec.taskUUID);
    if (source.via === 'webhook') {
      this.failRest(rec, err);
      return 'delivered';
    }
    if (!rec.acked) {
      if (now - rec.createdAt < NOT_FOUND_GRACE_MS) return undefined;
      this.failRest(
        rec,
        new OviError({
          code: 'notFound',
          rawCode: err.rawCode,
          message: 'Runware does not know task ' + rec.taskUUID + ': its submit never arrived (' + err.message + '). Nothing was resent.',
          retryable: false,
        }),
      );
      return 'delivered';
    }
    if (rec.notFoundAt === undefined) {
      rec.notFoundAt = now;
      this.events.notice(rec, 'Runware answers "' + (err.rawCode ?? err.code) + '" for task ' + rec.taskUUID + ', which it had acknowledged: asking again');
      return undefined;
    }
    if (now - rec.notFoundAt < NOT_FOUND_CONFIRM_MS) return undefined;
    this.failRest(
      rec,
      new OviError({
        code: 'notFound',
        rawCode: err.rawCode,
        message: 'Runware acknowledged task ' + rec.taskUUID + ' but now reports it failed or unknown (' + err.message + ')',
        retryable: false,
        details: err.details,
      }),
    );
    return 'delivered';
  }

  private settledCount(rec: JobRecord): number {
    return rec.delivered.length + rec.failed.length;
  }

  private failGeneration(rec: JobRecord, err: OviError): void {
    err.taskUUID = rec.taskUUID;
    const index = this.settledCount(rec) - 1;
    this.events.observed?.({ kind: 'failure', rec, err, index });
    this.deliver(rec, (s) => s.failure(rec, err, index), { kind: 'failure', err, index });
  }

  /** Every generation without an outcome fails with this error (one outcome each), and the task ends. */
  private failRest(rec: JobRecord, err: OviError): void {
    if (rec.done) return;
    while (this.settledCount(rec) < rec.numberResults) {
      rec.failed.push('task:' + err.code);
      this.failGeneration(rec, err);
    }
    this.finish(rec);
  }

  /** The task failed as a whole (deadline, polling refused, a resend that could not happen). */
  fail(rec: JobRecord, err: OviError): void {
    if (rec.done) return;
    this.failRest(rec, err);
  }

  /** An ovi webhook node received an outcome of a task no poll claimed: it becomes the emitter. */
  private adoptReceiver(rec: JobRecord, nodeId: string): void {
    if (rec.claimed || !this.sinks.has(nodeId)) return;
    if (rec.ownerId && this.sinks.has(rec.ownerId)) return;
    rec.ownerId = nodeId;
    const entry = this.sinks.get(nodeId);
    if (entry && rec.parked?.length) this.replay(rec, entry.sink);
  }

  private finish(rec: JobRecord): void {
    rec.done = true;
    this.records.delete(rec.taskUUID);
    this.finished.set(rec.taskUUID, true);
    if (this.finished.size > FINISHED_MEMORY) this.finished.delete(this.finished.keys().next().value as string);
    this.deliver(rec, (s) => s.settled?.(rec), { kind: 'settled' });
    if (rec.parked && rec.parked.length > 0) this.unclaimed.set(rec.taskUUID, { rec, until: Date.now() + UNCLAIMED_TTL_MS });
    this.events.changed(rec);
    this.sweepUnclaimed();
    this.events.finished(rec);
  }

  private sinkFor(rec: JobRecord): Sink | undefined {
    const owner = rec.ownerId ? this.sinks.get(rec.ownerId) : undefined;
    if (owner) return owner.sink;
    if (rec.resumed && (rec.ownerId || rec.via === 'poll')) {
      // The node that owned this task before the restart is gone, or no node had claimed it yet
      // (its msg died with the old process): any ovi poll of this account will do.
      const fallback = [...this.sinks.entries()].find(([, e]) => e.kind === 'poll');
      if (fallback) {
        this.events.rerouted(rec, fallback[0]);
        rec.ownerId = fallback[0];
        rec.claimed = true;
        return fallback[1].sink;
      }
    }
    return undefined;
  }

  private deliver(rec: JobRecord, call: (s: Sink) => void, parked: Parked): void {
    const sink = this.sinkFor(rec);
    if (sink) {
      call(sink);
      return;
    }
    (rec.parked ??= []).push(parked);
    if (rec.unclaimedAt === undefined && parked.kind !== 'settled') {
      rec.unclaimedAt = Date.now() + (this.hasSinkOfKind('poll') ? CLAIM_GRACE_MS : 0);
      this.waitingClaim.add(rec);
      this.armClaimCheck();
    }
  }

  private armClaimCheck(): void {
    if (this.claimTimer) return;
    let next = Infinity;
    for (const r of this.waitingClaim) next = Math.min(next, r.unclaimedAt ?? Infinity);
    if (next === Infinity) return;
    this.claimTimer = setTimeout(
      () => {
        this.claimTimer = undefined;
        this.reportUnclaimed();
      },
      Math.max(0, next - Date.now()),
    );
    this.claimTimer.unref?.();
  }

  private reportUnclaimed(): void {
    const now = Date.now();
    for (const rec of [...this.waitingClaim]) {
      if ((rec.unclaimedAt ?? Infinity) > now) continue;
      this.waitingClaim.delete(rec);
      if (!rec.parked?.length || rec.claimed) continue;
      const results = rec.parked.filter((p) => p.kind === 'result').length;
      const failures = rec.parked.filter((p) => p.kind === 'failure').length;
      const what = [results ? results + ' result(s)' : '', failures ? failures + ' failure(s)' : ''].filter(Boolean).join(' and ');
      this.events.unclaimed(
        rec,
        new OviError({
          code: 'unclaimed',
          taskUUID: rec.taskUUID,
          retryable: false,
          message:
            'task ' +
            rec.taskUUID +
            ' has ' +
            what +
            ' but no ovi poll claimed it and no ovi webhook received it: send {taskUUID: "' +
            rec.taskUUID +
            '"} to an ovi poll node to collect them (kept ' +
            Math.round(UNCLAIMED_TTL_MS / 60000) +
            ' min here, and at Runware)',
        }),
      );
    }
    this.armClaimCheck();
  }

  private sweepUnclaimed(): void {
    const now = Date.now();
    for (const [uuid, u] of this.unclaimed) {
      if (u.until > now) continue;
      this.unclaimed.delete(uuid);
      this.events.notice(u.rec, 'forgot the ' + (u.rec.parked?.length ?? 0) + ' unclaimed outcome(s) of task ' + uuid + ' (Runware may still have them)');
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
      if (r.done || r.deadline > now) continue;
      if (r.via === 'custom') {
        // Results go to the user's own URL: the end of our wait is no failure of the task.
        this.records.delete(r.taskUUID);
        r.done = true;
        this.events.changed(r);
        this.events.finished(r);
        continue;
      }
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
    this.armDeadlines();
  }

  close(): void {
    this.unclaimed.clear();
    this.waitingClaim.clear();
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (this.claimTimer) clearTimeout(this.claimTimer);
    this.claimTimer = undefined;
  }
}
