/**
 * Replaying journal records into the jobs they describe, trusting none of them: each is validated,
 * a bad one is skipped and reported (where, why, and which task when that can be read), and the rest
 * still count. No I/O here: FileStore feeds it lines and resolves side files afterwards.
 *
 * A damaged record of a known task takes that task out of the replayed state: what the record said
 * (a result emitted, the task finished) is unknown, and resuming an older state could emit an outcome
 * twice. The task is reported instead, so its owner can fail it clearly, unless a later intact record
 * of the same task supersedes the damaged one.
 */
import type { PersistedJob, Skipped } from './job-store';
import { FORMAT, decodeLine, uuidIn } from './journal-format';
import { costProblem, validateJob } from './job-validate';
import { SideRef, isSideRef } from './side-files';

/** A replayed job: validated, its large fields possibly still in side files. */
export interface ReplayedJob {
  job: PersistedJob;
  wireRef?: SideRef;
  msgRef?: SideRef;
  bytes: number; // the length of the line that last wrote it
}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export class Replay {
  readonly jobs = new Map<string, ReplayedJob>();
  costTotal = 0;
  readonly skipped: Skipped[] = [];
  valid = 0;
  damaged = 0;
  legacy = false;
  newerFormat?: unknown;
  /** Damaged records not superseded (yet), by the task they name. */
  private readonly blamed = new Map<string, Skipped[]>();

  /** One line (without its newline) as read from the journal. */
  line(where: string, raw: Buffer): void {
    if (raw.length === 0) return; // a separator left after a failed append: nothing lost
    const d = decodeLine(raw);
    if (!d.ok) return this.damage(where, d.reason, uuidIn(raw.toString('latin1')));
    if (d.legacy) this.legacy = true;
    this.record(where, d.value, raw.length, d.legacy);
  }

  /** A line too long to hold in memory: the tasks named in it are reported. */
  oversize(where: string, bytes: number, max: number, uuids: string[]): void {
    const reason = 'a record of ' + bytes + ' bytes, over the limit of ' + max + ' for one record';
    if (uuids.length === 0) return this.damage(where, reason + ' (no task could be identified in it)');
    for (const u of uuids) this.damage(where, reason + ' (naming ' + uuids.length + ' task(s))', u);
  }

  damage(where: string, reason: string, taskUUID?: string): void {
    this.damaged++;
    const entry: Skipped = { where, reason, ...(taskUUID ? { taskUUID } : {}) };
    this.skipped.push(entry);
    if (!taskUUID) return;
    this.jobs.delete(taskUUID);
    const list = this.blamed.get(taskUUID) ?? [];
    list.push(entry);
    this.blamed.set(taskUUID, list);
  }

  /** A later intact record of this task: the damaged ones before it no longer matter. */
  private supersede(taskUUID: string, where: string): void {
    for (const entry of this.blamed.get(taskUUID) ?? []) {
      delete entry.taskUUID;
      entry.reason += ' (task ' + taskUUID + '; superseded by its intact record at ' + where + ')';
    }
    this.blamed.delete(taskUUID);
  }

  private record(where: string, v: unknown, bytes: number, legacy: boolean): void {
    if (!isRecord(v)) return this.damage(where, 'the record is ' + (v === null ? 'null' : typeof v) + ', not an object');
    if (legacy && v.op === undefined && v.version === 1) return this.snapshot(where, v);
    switch (v.op) {
      case 'journal':
        if (v.format !== FORMAT) this.newerFormat = v.format;
        this.valid++;
        return;
      case 'put':
        return this.put(where, v.job, bytes, legacy);
      case 'del':
        if (typeof v.taskUUID !== 'string' || v.taskUUID === '') return this.damage(where, 'a delete record without a taskUUID');
        this.jobs.delete(v.taskUUID);
        this.supersede(v.taskUUID, where);
        this.valid++;
        return;
      case 'cost':
        return this.cost(where, v.total);
      default:
        return this.damage(where, 'an unknown record type ' + JSON.stringify(v.op ?? null), uuidIn(JSON.stringify(v)));
    }
  }

  private put(where: string, raw: unknown, bytes: number, legacy: boolean): void {
    let wireRef: SideRef | undefined;
    let msgRef: SideRef | undefined;
    let candidate = raw;
    if (!legacy && isRecord(raw) && (raw.wireRef !== undefined || raw.msgRef !== undefined)) {
      const uuid = typeof raw.taskUUID === 'string' ? raw.taskUUID : undefined;
      if (raw.wireRef !== undefined && !isSideRef(raw.wireRef)) return this.damage(where, 'wireRef is not a side file reference', uuid);
      if (raw.msgRef !== undefined && !isSideRef(raw.msgRef)) return this.damage(where, 'msgRef is not a side file reference', uuid);
      wireRef = raw.wireRef as SideRef | undefined;
      msgRef = raw.msgRef as SideRef | undefined;
      // Checked here without the side files' content (read once, for the final state only).
      const { wireRef: _w, msgRef: _m, ...rest } = raw;
      candidate = { ...rest, ...(msgRef ? { msg: {} } : {}), ...(wireRef ? { wire: undefined } : {}) };
    }
    const check = validateJob(candidate);
    // No readable taskUUID: the one its msg snapshot carries (msg.taskUUID) still names the task.
    if (!check.ok) return this.damage(where, check.reason, check.taskUUID ?? uuidIn(JSON.stringify(raw ?? null)));
    this.jobs.set(check.job.taskUUID, { job: check.job, wireRef, msgRef, bytes });
    this.supersede(check.job.taskUUID, where);
    this.valid++;
  }

  private cost(where: string, total: unknown): void {
    const wrong = costProblem(total);
    if (wrong) {
      this.damaged++;
      this.skipped.push({ where, reason: wrong + ': the previous total (' + this.costTotal + ') stands' });
      return;
    }
    this.costTotal = total as number;
    this.valid++;
  }

  /** A 0.1.0 snapshot line: the whole state; each job in it is checked on its own. */
  private snapshot(where: string, v: Record<string, unknown>): void {
    for (const uuid of [...this.blamed.keys()]) this.supersede(uuid, where);
    this.jobs.clear();
    if (!Array.isArray(v.jobs)) this.damage(where, 'a snapshot whose jobs are not a list');
    else
      v.jobs.forEach((j: unknown, i) => {
        const check = validateJob(j);
        if (check.ok) this.jobs.set(check.job.taskUUID, { job: check.job, bytes: 0 });
        else this.damage(where + ' (job ' + (i + 1) + ' of the snapshot)', check.reason, check.taskUUID);
      });
    this.cost(where, v.costTotal);
  }

  /** The tasks whose damage stands: each named once, on its last damaged record. */
  finish(): void {
    for (const [uuid, list] of this.blamed) {
      for (const entry of list.slice(0, -1)) {
        delete entry.taskUUID;
        entry.reason += ' (task ' + uuid + ', reported again below)';
      }
    }
  }
}
