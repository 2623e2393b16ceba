/**
 * The journal holds prompts, msg properties and input images: its directory is 0700 and every file
 * in it 0600, including ones an older version created with the default umask. The fs functions are
 * passed in, so tests can make a disk fail on purpose.
 */
import { promises as fsp } from 'fs';

export type JournalFs = Pick<typeof fsp, 'open' | 'rename' | 'unlink' | 'mkdir' | 'chmod' | 'stat' | 'readdir' | 'truncate' | 'copyFile'>;

export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Create the directory 0700, or narrow an existing one to 0700. */
export async function privateDir(fs: JournalFs, dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
  const st = await fs.stat(dir);
  if ((st.mode & 0o777) !== DIR_MODE) await fs.chmod(dir, DIR_MODE);
}

/** Narrow an existing file to 0600 (best effort: a file we cannot chmod we cannot fix either). */
export async function privateFile(fs: JournalFs, file: string): Promise<void> {
  try {
    const st = await fs.stat(file);
    if (st.isFile() && (st.mode & 0o777) !== FILE_MODE) await fs.chmod(file, FILE_MODE);
  } catch {
    // gone meanwhile, or not ours to fix
  }
}

/** Make a rename or a new file in `dir` durable (not supported everywhere: e.g. Windows). */
export async function syncDir(fs: JournalFs, dir: string): Promise<void> {
  let handle;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // best effort: the data itself was fsynced
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Write a whole new file 0600 and fsync it; a partial file is removed on failure. */
export async function writePrivateFile(fs: JournalFs, file: string, data: string | Buffer, flags = 'w'): Promise<void> {
  const handle = await fs.open(file, flags, FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await fs.unlink(file).catch(() => undefined);
    throw e;
  }
  await handle.close();
}

export const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));
export const errorCode = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | null)?.code;
