/**
 * Large fields of a job (the saved task, which may hold a 14 MB image data URI, and a large msg
 * snapshot) live beside the journal, one file per job and field, so journal lines stay small. A side
 * file is written once (fsynced before any journal line refers to it), named after its task and its
 * content's checksum, verified against the reference when read, and removed once no record needs it.
 */
import { randomBytes } from 'crypto';
import * as path from 'path';
import { crcHex } from './journal-format';
import { JournalFs, errorCode, privateDir, privateFile, syncDir, writePrivateFile } from './private-files';

export type SideField = 'wire' | 'msg';

/** How a journal record points at a side file. */
export interface SideRef {
  file: string;
  bytes: number;
  crc: string;
}

const NAME = /^[\w-]{1,120}\.(wire|msg)\.[0-9a-f]{8}\.json$/;
const TEMP = /^[\w-]{1,120}\.(wire|msg)\.[0-9a-f]{8}\.json\.[0-9a-f]{8}\.tmp$/;

export function isSideRef(v: unknown): v is SideRef {
  const r = v as SideRef | null;
  return (
    !!r &&
    typeof r === 'object' &&
    typeof r.file === 'string' &&
    NAME.test(r.file) &&
    typeof r.bytes === 'number' &&
    Number.isSafeInteger(r.bytes) &&
    r.bytes >= 0 &&
    typeof r.crc === 'string' &&
    /^[0-9a-f]{8}$/.test(r.crc)
  );
}

export class SideFiles {
  constructor(
    readonly dir: string,
    private readonly fs: JournalFs,
  ) {}

  private nameFor(taskUUID: string, field: SideField, crc: string): string {
    // A taskUUID is [0-9a-f-]; anything else is made safe and kept distinct by its own checksum.
    const safe = /^[\w-]{1,100}$/.test(taskUUID) ? taskUUID : taskUUID.replace(/[^\w-]/g, '_').slice(0, 100) + '-' + crcHex(Buffer.from(taskUUID));
    return safe + '.' + field + '.' + crc + '.json';
  }

  /** Write (or find already written) the side file for this content; durable once syncDir() ran. */
  async write(taskUUID: string, field: SideField, text: string): Promise<SideRef> {
    const data = Buffer.from(text, 'utf8');
    const crc = crcHex(data);
    const file = this.nameFor(taskUUID, field, crc);
    // Through a temporary name: rewriting the same content must never leave a referenced file half written.
    const tmp = path.join(this.dir, file + '.' + randomBytes(4).toString('hex') + '.tmp');
    try {
      await writePrivateFile(this.fs, tmp, data, 'wx');
    } catch (e) {
      if (errorCode(e) !== 'ENOENT') throw e;
      await privateDir(this.fs, this.dir); // the first side file, or the directory was removed
      await writePrivateFile(this.fs, tmp, data, 'wx');
    }
    try {
      await this.fs.rename(tmp, path.join(this.dir, file));
    } catch (e) {
      await this.fs.unlink(tmp).catch(() => undefined);
      throw e;
    }
    return { file, bytes: data.length, crc };
  }

  /** After writes, before a journal line refers to them: their directory entries are durable too. */
  sync(): Promise<void> {
    return syncDir(this.fs, this.dir);
  }

  /** The content, or a reason it cannot be trusted. */
  async read(ref: SideRef, maxBytes: number): Promise<{ ok: true; text: string } | { ok: false; reason: string }> {
    if (ref.bytes > maxBytes) return { ok: false, reason: 'side file ' + ref.file + ' is said to hold ' + ref.bytes + ' bytes, over the limit of ' + maxBytes };
    let handle;
    try {
      handle = await this.fs.open(path.join(this.dir, ref.file), 'r');
      const st = await handle.stat();
      if (st.size !== ref.bytes) return { ok: false, reason: 'side file ' + ref.file + ' holds ' + st.size + ' bytes, not the ' + ref.bytes + ' recorded' };
      const data = Buffer.allocUnsafe(ref.bytes);
      let at = 0;
      while (at < data.length) {
        const { bytesRead } = await handle.read(data, at, data.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      if (at !== data.length || crcHex(data) !== ref.crc) return { ok: false, reason: 'side file ' + ref.file + ' is damaged (checksum mismatch)' };
      return { ok: true, text: data.toString('utf8') };
    } catch (e) {
      return { ok: false, reason: 'side file ' + ref.file + (errorCode(e) === 'ENOENT' ? ' is missing' : ' cannot be read: ' + (e as Error).message) };
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }

  async remove(file: string): Promise<void> {
    await this.fs.unlink(path.join(this.dir, file)).catch(() => undefined);
  }

  /**
   * Remove every side file no record refers to (left by a crash between two steps), and narrow the
   * modes of the directory and of what stays. Files that are not side files are left alone.
   */
  async prune(keep: ReadonlySet<string>): Promise<number> {
    let names: string[];
    try {
      names = await this.fs.readdir(this.dir);
    } catch {
      return 0; // no side files yet
    }
    await privateDir(this.fs, this.dir);
    let removed = 0;
    for (const name of names) {
      if (keep.has(name)) await privateFile(this.fs, path.join(this.dir, name));
      else if (NAME.test(name) || TEMP.test(name)) {
        await this.remove(name);
        removed++;
      }
    }
    return removed;
  }
}
