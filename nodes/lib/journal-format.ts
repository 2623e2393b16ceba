/**
 * The framing of one journal line (format 2), after LevelDB's log records and SQLite's WAL frames:
 * every record carries a checksum of its bytes, so a torn or flipped record is detected and skipped,
 * never parsed as truth.
 *
 *   <crc32 of the JSON's UTF-8 bytes, 8 lowercase hex digits> <space> <JSON> <LF>
 *
 * A line starting with "{" is the 0.1.0 format (plain JSON, no checksum): still read, and rewritten
 * in format 2 by the next compaction.
 */
import * as zlib from 'zlib';

export const FORMAT = 2;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

// zlib.crc32 arrived in Node 20.15 / 22.2; the table covers older 20.x (same CRC-32, IEEE).
const native = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export function crc32(data: Uint8Array): number {
  if (typeof native === 'function') return native(data) >>> 0;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export const crcHex = (data: Uint8Array): string => crc32(data).toString(16).padStart(8, '0');

/** One record as a journal line, newline included. */
export function encodeLine(record: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(record), 'utf8');
  const out = Buffer.allocUnsafe(json.length + 10);
  out.write(crcHex(json), 0, 'latin1');
  out[8] = 0x20;
  json.copy(out, 9);
  out[out.length - 1] = 0x0a;
  return out;
}

export type Decoded = { ok: true; value: unknown; legacy: boolean } | { ok: false; reason: string };

const HEX = /^[0-9a-f]{8}$/;

/** One line without its newline: the record, or why it is not one. */
export function decodeLine(line: Buffer): Decoded {
  if (line.length >= 10 && line[8] === 0x20 && HEX.test(line.toString('latin1', 0, 8))) {
    const body = line.subarray(9);
    if (crcHex(body) !== line.toString('latin1', 0, 8)) return { ok: false, reason: 'checksum mismatch (the record is damaged)' };
    try {
      return { ok: true, value: JSON.parse(body.toString('utf8')), legacy: false };
    } catch (e) {
      // A matching checksum over bytes that are not JSON: written so by a bug, not by damage.
      return { ok: false, reason: 'checksum matches but the record is not JSON: ' + (e instanceof Error ? e.message : String(e)) };
    }
  }
  if (line[0] === 0x7b /* { */) {
    try {
      return { ok: true, value: JSON.parse(line.toString('utf8')), legacy: true };
    } catch (e) {
      return { ok: false, reason: 'an old-format (0.1.0) record that does not parse: ' + (e instanceof Error ? e.message : String(e)) };
    }
  }
  return { ok: false, reason: 'not a journal record (no checksum, not JSON)' };
}

/**
 * The taskUUID a damaged record seems to be about: the first "taskUUID":"<uuid>" in its raw bytes.
 * A task's own key comes first in every record we write; inside the saved task (a JSON string) the
 * quotes are escaped, so they do not match.
 */
const UUID_IN_RECORD = /"taskUUID":"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"/;

export function uuidIn(text: string): string | undefined {
  return UUID_IN_RECORD.exec(text)?.[1];
}

/** Every distinct task id named in a stretch of raw journal text (for a record too large to read). */
export function uuidsIn(text: string, into: Set<string>): void {
  const re = new RegExp(UUID_IN_RECORD.source, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) into.add(m[1]);
}
