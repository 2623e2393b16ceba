/**
 * FileStore: the durable journal of one account, in <userDir>/.ovi (0700, every file 0600).
 *
 *  - jobs-<id>.json: the journal, one record per line, each with its own checksum (journal-format.ts).
 *    Records: {op:'journal',format:2} (first line after a compaction), {op:'put',job},
 *    {op:'del',taskUUID}, {op:'cost',total}. A change appends O(that change) bytes, group-committed
 *    and fsynced; the file is rewritten (compacted) once it is mostly history, by lines or by bytes.
 *  - jobs-<id>.side/: large fields of a job (the saved task with its image, a large msg), one file per
 *    job and field, written once, referenced by {file,bytes,crc} from the journal (side-files.ts).
 *
 * Loading never throws and never trusts a byte: lines are read one at a time with bounded memory,
 * checked, validated, and the bad ones reported (journal-replay.ts). A torn last line (an append cut
 * short by a crash) is truncated; a journal that cannot be read at all is renamed aside and reported,
 * never replaced.
 */
import { randomBytes } from 'crypto';
import { promises as fsp } from 'fs';
import * as path from 'path';
import type { LoadReport, Op, PersistedJob, PersistedState, Skipped, StateAccess, StateStore } from './job-store';
import { FORMAT, encodeLine } from './journal-format';
import { Replay } from './journal-replay';
import { validateJob } from './job-validate';
import { readLines } from './line-reader';
import { FILE_MODE, JournalFs, errorCode, errorText, privateDir, privateFile, syncDir } from './private-files';
import { SideFiles, SideRef } from './side-files';

export interface FileStoreOptions {
  /** A larger journal is renamed aside unread (ours stay far smaller: large fields are side files). */
  maxFileBytes?: number;
  /** A longer line is skipped unread (ours are under MAX_RECORD_BYTES; 0.1.0 ones could be huge). */
  maxLineBytes?: number;
  maxSideBytes?: number;
  /** wire and msg longer than this (characters) go to side files. */
  inlineMaxChars?: number;
  /** Copies of a journal in which records were found damaged, kept for inspection. */
  keepDamagedCopies?: number;
  /** Inspect a journal another process may be writing: change nothing (no truncation, no cleanup, no writes). */
  readOnly?: boolean;
  fs?: JournalFs;
}

const DEFAULTS: Required<Omit<FileStoreOptions, 'fs'>> = {
  maxFileBytes: 1024 ** 3,
  maxLineBytes: 128 * 1024 ** 2,
  maxSideBytes: 64 * 1024 ** 2,
  inlineMaxChars: 4096,
  keepDamagedCopies: 3,
  readOnly: false,
};

/** No line we write is longer: past it, wire and msg go to side files whatever their size. */
export const MAX_RECORD_BYTES = 64 * 1024;
/** Below this size a journal is never compacted for its bytes (only for its lines). */
const COMPACT_MIN_BYTES = 1024 * 1024;

/** What the journal holds for a live job: its line's size and its side files (with what they hold). */
interface Known {
  bytes: number;
  wire?: { ref: SideRef; src: string };
  msg?: { ref: SideRef; src: Record<string, unknown> };
}

/** A name part that sorts by time and never repeats (an aside must not replace an earlier one). */
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-') + '-' + randomBytes(3).toString('hex');
const mib = (n: number) => (n / 1048576).toFixed(1) + ' MiB';

/**
 * A group commit can hold thousands of records (a burst of submits): encoding them all in one macrotask
 * would stall the event loop for tens of milliseconds. Yield to it every so many records.
 */
function breathe(i: number): Promise<void> | undefined {
  return i > 0 && i % 200 === 0 ? new Promise((resolve) => setImmediate(resolve)) : undefined;
}

export class FileStore implements StateStore {
  private readonly opts: Required<Omit<FileStoreOptions, 'fs'>>;
  private readonly fs: JournalFs;
  private readonly dir: string;
  private readonly side: SideFiles;
  private known = new Map<string, Known>();
  private lines = 0; // since the last compaction
  private size = 0; // bytes of the journal as we left it
  private liveBytes = 0; // bytes the live jobs' last lines take
  private compactNext = false; // an old format or damage was read: rewrite it clean
  private prepared = false;
  private separator = false; // the file may end inside a line: start the next append on a new one
  private loading?: Promise<LoadReport>;
  /** Set when the journal could not be read nor moved aside: writing would replace it. */
  private broken?: string;

  constructor(
    readonly file: string,
    options: FileStoreOptions = {},
  ) {
    const { fs, ...limits } = options;
    this.opts = { ...DEFAULTS, ...limits };
    this.fs = fs ?? fsp;
    this.dir = path.dirname(file);
    this.side = new SideFiles(file.replace(/\.json$/, '') + '.side', this.fs);
  }

  get description(): string {
    return 'file ' + this.file;
  }

  load(): Promise<LoadReport> {
    this.loading ??= this.read().catch((e: unknown) => ({ skipped: [], problem: 'the job journal ' + this.file + ' could not be loaded: ' + errorText(e) }));
    return this.loading;
  }

  private async read(): Promise<LoadReport> {
    const ro = this.opts.readOnly;
    try {
      if (!ro) await privateDir(this.fs, this.dir);
    } catch (e) {
      return {
        skipped: [],
        problem: 'the job journal directory ' + this.dir + ' cannot be used (' + errorText(e) + '): jobs in flight will not survive a restart',
      };
    }
    if (!ro) await this.removeTempFiles();
    let size: number;
    try {
      const st = await this.fs.stat(this.file);
      if (!st.isFile()) return this.setAside(new Replay(), 'is not a file (it is a ' + (st.isDirectory() ? 'directory' : 'special file') + ')');
      if (st.size > this.opts.maxFileBytes)
        return this.setAside(new Replay(), 'is ' + mib(st.size) + ', over the ' + mib(this.opts.maxFileBytes) + ' a journal may have');
      size = st.size;
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') return this.setAside(new Replay(), 'cannot be read (' + errorText(e) + ')');
      if (!ro) await this.side.prune(new Set());
      this.prepared = true;
      return { skipped: [] };
    }
    if (!ro) await privateFile(this.fs, this.file);
    const replay = new Replay();
    let torn: { at: number; where: string } | undefined;
    try {
      torn = await this.scan(replay);
    } catch (e) {
      return this.setAside(replay, 'cannot be read (' + errorText(e) + ')');
    }
    if (replay.newerFormat !== undefined)
      return this.setAside(replay, 'was written by a newer version (format ' + JSON.stringify(replay.newerFormat) + ')', false);
    if (replay.valid === 0 && replay.damaged > 0) return this.setAside(replay, 'holds no record that can be read');
    if (torn && !ro) {
      try {
        await this.fs.truncate(this.file, torn.at);
        size = torn.at;
      } catch (e) {
        this.separator = true;
        replay.skipped.push({ where: torn.where, reason: 'the torn tail could not be truncated (' + errorText(e) + '): the next record starts a new line' });
      }
    }
    await this.resolveSideFiles(replay);
    replay.finish();
    if (replay.damaged > 0 && !ro) await this.keepDamagedCopy(replay.skipped);
    this.size = size;
    this.lines = replay.valid + replay.damaged;
    this.compactNext = replay.legacy || replay.damaged > 0;
    this.prepared = true;
    const jobs: PersistedJob[] = [];
    for (const r of replay.jobs.values()) jobs.push(r.job);
    if (!ro) await this.side.prune(this.referenced());
    return { state: { version: 1, jobs, costTotal: replay.costTotal }, skipped: replay.skipped };
  }

  /** Feed every line to the replay; the torn tail, if the file ends inside a line. */
  private async scan(replay: Replay): Promise<{ at: number; where: string } | undefined> {
    const handle = await this.fs.open(this.file, 'r');
    try {
      for await (const line of readLines(handle, this.opts.maxLineBytes)) {
        const where = 'line ' + line.no;
        if (line.bytes && line.terminated) replay.line(where, line.bytes);
        else if (line.terminated) replay.oversize(where, line.length, this.opts.maxLineBytes, line.uuids ?? []);
        else {
          const torn = { at: line.start, where: where + ' (the end of the file, from byte ' + line.start + ')' };
          const reason = 'torn tail: an append cut short by a crash (' + line.length + ' bytes), never confirmed as saved: truncated';
          replay.skipped.push({ where: torn.where, reason });
          return torn;
        }
      }
      return undefined;
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /** Read the side files of the jobs that survived the replay; a job whose side file is bad is damaged. */
  private async resolveSideFiles(replay: Replay): Promise<void> {
    this.known.clear();
    this.liveBytes = 0;
    for (const [uuid, r] of [...replay.jobs]) {
      const known: Known = { bytes: r.bytes };
      if (r.msgRef || r.wireRef) {
        const job: Record<string, unknown> = { ...r.job };
        let failed: { ref: SideRef; reason: string } | undefined;
        for (const [field, ref] of [
          ['msg', r.msgRef],
          ['wire', r.wireRef],
        ] as const) {
          if (!ref || failed) continue;
          const got = await this.side.read(ref, this.opts.maxSideBytes);
          if (!got.ok) failed = { ref, reason: got.reason };
          else if (field === 'wire') job.wire = got.text;
          else {
            try {
              job.msg = JSON.parse(got.text);
            } catch (e) {
              failed = { ref, reason: 'side file ' + ref.file + ' is not JSON: ' + errorText(e) };
            }
          }
        }
        const check = failed ? undefined : validateJob(job);
        if (!check?.ok) {
          const ref = failed?.ref ?? r.wireRef ?? r.msgRef;
          replay.damage('side file ' + ref?.file, failed?.reason ?? (check && !check.ok ? check.reason : 'invalid'), uuid);
          continue;
        }
        r.job = check.job;
        if (r.msgRef) known.msg = { ref: r.msgRef, src: r.job.msg };
        if (r.wireRef) known.wire = { ref: r.wireRef, src: r.job.wire as string };
      }
      this.known.set(uuid, known);
      this.liveBytes += known.bytes;
    }
  }

  private referenced(): Set<string> {
    const keep = new Set<string>();
    for (const k of this.known.values()) {
      if (k.wire) keep.add(k.wire.ref.file);
      if (k.msg) keep.add(k.msg.ref.file);
    }
    return keep;
  }

  /**
   * The journal cannot be read: move it (and its side files) aside, kept for inspection or recovery,
   * never overwritten, and start a new one. If even that fails, refuse to write rather than replace it.
   */
  private async setAside(replay: Replay, why: string, salvage = true): Promise<LoadReport> {
    const suffix = '.unreadable-' + stamp();
    const aside = this.file + suffix;
    const what = 'the job journal ' + this.file + ' ' + why;
    replay.finish();
    if (this.opts.readOnly) return { skipped: replay.skipped, problem: what };
    try {
      await this.fs.rename(this.file, aside);
      await privateFile(this.fs, aside);
      await syncDir(this.fs, this.dir);
    } catch (e) {
      this.broken = what + ', and it could not be renamed aside (' + errorText(e) + '): it is left as it is, and jobs are not saved until it is moved away';
      return { skipped: replay.skipped, problem: this.broken };
    }
    await this.fs.rename(this.side.dir, this.side.dir + suffix).catch(() => undefined); // none, most likely
    this.prepared = true;
    // Records read before a read error still resume (those needing no side file); the next write
    // starts the new journal with them.
    const jobs = salvage ? [...replay.jobs.values()].filter((r) => !r.wireRef && !r.msgRef).map((r) => r.job) : [];
    this.compactNext = jobs.length > 0;
    const state: PersistedState | undefined = jobs.length > 0 ? { version: 1, jobs, costTotal: replay.costTotal } : undefined;
    const kept = jobs.length > 0 ? ' except ' + jobs.length + ' read before the error' : '';
    return {
      ...(state ? { state } : {}),
      skipped: replay.skipped,
      problem: what + ': renamed aside to ' + aside + ' (kept, not replaced); jobs saved in it are not resumed' + kept,
    };
  }

  /** A copy of a journal with damaged records, before the next compaction rewrites it clean. */
  private async keepDamagedCopy(skipped: Skipped[]): Promise<void> {
    if (this.opts.keepDamagedCopies <= 0) return;
    const copy = this.file + '.damaged-' + stamp();
    try {
      await this.fs.copyFile(this.file, copy);
      await privateFile(this.fs, copy);
      const first = skipped.find((s) => !s.reason.startsWith('torn tail'));
      if (first) first.reason += ' [the journal as it was is kept in ' + copy + ']';
      const base = path.basename(this.file) + '.damaged-';
      const copies = (await this.fs.readdir(this.dir)).filter((n) => n.startsWith(base)).sort();
      for (const old of copies.slice(0, Math.max(0, copies.length - this.opts.keepDamagedCopies)))
        await this.fs.unlink(path.join(this.dir, old)).catch(() => undefined);
    } catch {
      // a copy for inspection only: the load itself does not depend on it
    }
  }

  /** Temporary files of compactions that a crash or a full disk interrupted. */
  private async removeTempFiles(): Promise<void> {
    const base = path.basename(this.file) + '.';
    let names: string[] = [];
    try {
      names = await this.fs.readdir(this.dir);
    } catch {
      return;
    }
    for (const n of names) if (n.startsWith(base) && /\.[0-9a-f]{8}\.tmp$/.test(n)) await this.fs.unlink(path.join(this.dir, n)).catch(() => undefined);
  }

  /** Before a first write without a load: a private directory, and a file that may end inside a line. */
  private async prepare(): Promise<void> {
    await privateDir(this.fs, this.dir);
    try {
      const st = await this.fs.stat(this.file);
      this.size = st.size;
      if (st.size > 0) {
        const handle = await this.fs.open(this.file, 'r');
        try {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, st.size - 1);
          this.separator = last[0] !== 0x0a;
        } finally {
          await handle.close();
        }
      }
      await privateFile(this.fs, this.file);
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
    }
    this.prepared = true;
  }

  async write(ops: Op[], access: StateAccess): Promise<void> {
    if (this.opts.readOnly) throw new Error('the job journal ' + this.file + ' was opened read-only');
    if (this.loading) await this.loading;
    if (this.broken) throw new Error(this.broken);
    if (!this.prepared) await this.prepare();
    const mostlyHistory = this.lines + ops.length > 2 * access.live() + 1000 || (this.size > COMPACT_MIN_BYTES && this.size > 4 * this.liveBytes);
    if (this.compactNext || mostlyHistory) return this.compact(access.snapshot());
    return this.append(ops);
  }

  /**
   * A job as one record. wire and msg go to side files when large (reusing the job's side file while
   * it holds the same content: comparing the same string or object is O(1)). `fresh` collects new
   * side files, to remove if the write fails.
   */
  private async encodeJob(job: PersistedJob, fresh: string[], force = false): Promise<{ line: Buffer; known: Known }> {
    const prev = this.known.get(job.taskUUID);
    const { taskUUID, wire, msg, ...rest } = job;
    const record: Record<string, unknown> = { taskUUID, ...rest };
    const known: Known = { bytes: 0 };
    const spill = async (field: 'wire' | 'msg', text: string): Promise<SideRef> => {
      const ref = await this.side.write(taskUUID, field, text);
      fresh.push(ref.file);
      return ref;
    };
    if (prev?.msg && prev.msg.src === msg) known.msg = prev.msg;
    else {
      const text = JSON.stringify(msg);
      if (force || text.length > this.opts.inlineMaxChars) known.msg = { ref: await spill('msg', text), src: msg };
      else record.msg = msg;
    }
    if (known.msg) record.msgRef = known.msg.ref;
    if (wire !== undefined) {
      if (prev?.wire && prev.wire.src === wire) known.wire = prev.wire;
      else if (force || wire.length > this.opts.inlineMaxChars) known.wire = { ref: await spill('wire', wire), src: wire };
      else record.wire = wire;
      if (known.wire) record.wireRef = known.wire.ref;
    }
    const line = encodeLine({ op: 'put', job: record });
    if (line.length > MAX_RECORD_BYTES && !force && (record.msg !== undefined || record.wire !== undefined)) return this.encodeJob(job, fresh, true);
    known.bytes = line.length;
    return { line, known };
  }

  /** Open a file of ours 0600; the directory is made again (0700) if someone removed it. */
  private async openIn(file: string, flags: string) {
    try {
      return await this.fs.open(file, flags, FILE_MODE);
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
      await privateDir(this.fs, this.dir);
      return this.fs.open(file, flags, FILE_MODE);
    }
  }

  /** Side files referenced before a change and not after it. */
  private static dropped(before: Known | undefined, after: Known | undefined): string[] {
    const out: string[] = [];
    if (before?.wire && before.wire.ref.file !== after?.wire?.ref.file) out.push(before.wire.ref.file);
    if (before?.msg && before.msg.ref.file !== after?.msg?.ref.file) out.push(before.msg.ref.file);
    return out;
  }

  private async append(ops: Op[]): Promise<void> {
    const fresh: string[] = [];
    const lines: Buffer[] = this.separator ? [Buffer.from('\n')] : [];
    const changes = new Map<string, Known | undefined>();
    try {
      for (const [i, op] of ops.entries()) {
        await breathe(i);
        if (op.op === 'put') {
          const { line, known } = await this.encodeJob(op.job, fresh);
          lines.push(line);
          changes.set(op.job.taskUUID, known);
        } else if (op.op === 'del') {
          lines.push(encodeLine({ op: 'del', taskUUID: op.taskUUID }));
          changes.set(op.taskUUID, undefined);
        } else lines.push(encodeLine({ op: 'cost', total: op.total }));
      }
      if (fresh.length > 0) await this.side.sync();
    } catch (e) {
      await this.forget(fresh);
      throw e;
    }
    const data = Buffer.concat(lines);
    const handle = await this.openIn(this.file, 'a');
    let before = 0;
    try {
      before = (await handle.stat()).size;
      await handle.writeFile(data);
      await handle.sync(); // survive a power cut, not only a SIGKILL
    } catch (e) {
      // A partial append (a full disk) must not glue the next record to its torn end.
      await handle.truncate(before).catch(() => (this.separator = true));
      await handle.close().catch(() => undefined);
      await this.forget(fresh);
      throw e;
    }
    await handle.close();
    if (before === 0) await syncDir(this.fs, this.dir); // a new file: its directory entry too
    this.separator = false;
    this.size = before + data.length;
    this.lines += ops.length;
    const gone: string[] = [];
    for (const [uuid, known] of changes) {
      const prev = this.known.get(uuid);
      gone.push(...FileStore.dropped(prev, known));
      this.liveBytes -= prev?.bytes ?? 0;
      if (known) {
        this.known.set(uuid, known);
        this.liveBytes += known.bytes;
      } else this.known.delete(uuid);
    }
    await this.forget(gone);
  }

  /** Remove side files (after a failed write: the ones it made; after a commit: the ones no longer needed). */
  private async forget(files: string[]): Promise<void> {
    for (const f of files) if (!this.isReferenced(f)) await this.side.remove(f);
  }

  private isReferenced(file: string): boolean {
    for (const k of this.known.values()) if (k.wire?.ref.file === file || k.msg?.ref.file === file) return true;
    return false;
  }

  /** Rewrite the journal as its live state (format 2), atomically: temp file, fsync, rename, fsync dir. */
  private async compact(state: PersistedState): Promise<void> {
    const fresh: string[] = [];
    const next = new Map<string, Known>();
    const chunks: Buffer[] = [encodeLine({ op: 'journal', format: FORMAT, compactedAt: Date.now() })];
    let liveBytes = 0;
    try {
      for (const [i, job] of state.jobs.entries()) {
        await breathe(i);
        const { line, known } = await this.encodeJob(job, fresh);
        chunks.push(line);
        next.set(job.taskUUID, known);
        liveBytes += known.bytes;
      }
      chunks.push(encodeLine({ op: 'cost', total: state.costTotal }));
      if (fresh.length > 0) await this.side.sync();
    } catch (e) {
      await this.forget(fresh);
      throw e;
    }
    const tmp = this.file + '.' + randomBytes(4).toString('hex') + '.tmp';
    let size = 0;
    try {
      const handle = await this.openIn(tmp, 'wx');
      try {
        for (let i = 0; i < chunks.length; i += 256) {
          const data = Buffer.concat(chunks.slice(i, i + 256));
          await handle.writeFile(data);
          size += data.length;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      await this.fs.rename(tmp, this.file);
    } catch (e) {
      await this.fs.unlink(tmp).catch(() => undefined);
      await this.forget(fresh);
      throw e;
    }
    await syncDir(this.fs, this.dir);
    const before = this.known;
    this.known = next;
    for (const [uuid, k] of before) await this.forget(FileStore.dropped(k, next.get(uuid)));
    this.lines = chunks.length;
    this.size = size;
    this.liveBytes = liveBytes;
    this.compactNext = false;
    this.separator = false;
  }
}
