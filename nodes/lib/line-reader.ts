/**
 * Read a journal line by line in fixed chunks, so memory stays bounded by the longest line allowed
 * (a 0.1.0 journal could hold lines of hundreds of MB, and one string past V8's limit made the
 * whole file read as nothing). A line over the limit is not kept: only the task ids named in it are,
 * so those tasks can be reported rather than silently lost.
 */
import type { FileHandle } from 'fs/promises';
import { uuidsIn } from './journal-format';

export interface Line {
  no: number; // 1-based
  start: number; // byte offset of its first byte
  length: number; // bytes, newline excluded
  terminated: boolean; // false: the file ends inside it (a torn append)
  bytes?: Buffer; // absent when over the limit; valid until the next line is read
  uuids?: string[]; // over the limit: the task ids seen in it
}

const CHUNK = 64 * 1024;

export async function* readLines(handle: FileHandle, maxLine: number): AsyncGenerator<Line> {
  let pos = 0;
  let no = 0;
  let start = 0;
  let parts: Buffer[] = [];
  let length = 0;
  let over: Set<string> | undefined;
  let carry = ''; // the end of the previous piece, so an id split across chunks is still seen
  const scan = (piece: Buffer) => {
    const text = carry + piece.toString('latin1');
    uuidsIn(text, over as Set<string>);
    carry = text.slice(-80);
  };
  const line = (terminated: boolean): Line => {
    no++;
    const out: Line = { no, start, length, terminated };
    if (over) out.uuids = [...over];
    else out.bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
    parts = [];
    length = 0;
    over = undefined;
    carry = '';
    return out;
  };
  for (;;) {
    const chunk = Buffer.allocUnsafe(CHUNK); // fresh each time: the pieces of a pending line point into it
    const { bytesRead } = await handle.read(chunk, 0, CHUNK, pos);
    if (bytesRead === 0) break;
    const data = chunk.subarray(0, bytesRead);
    let from = 0;
    while (from < bytesRead) {
      const nl = data.indexOf(0x0a, from);
      const end = nl === -1 ? bytesRead : nl;
      const piece = data.subarray(from, end);
      if (!over && length + piece.length > maxLine) {
        over = new Set();
        for (const p of parts) scan(p);
        parts = [];
      }
      if (over) scan(piece);
      else if (piece.length > 0) parts.push(piece);
      length += piece.length;
      if (end === bytesRead) break;
      yield line(true);
      start = pos + end + 1;
      from = end + 1;
    }
    pos += bytesRead;
  }
  if (length > 0) yield line(false);
}
