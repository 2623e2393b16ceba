/**
 * The "generated" videos: every result is one of three small, real, playable fixture clips
 * (simulator/media/, see its README), served with byte ranges so download and resume code can
 * be tested against something a player accepts.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { IncomingMessage, ServerResponse } from 'http';
import type { OutputFormat } from './validate';

export const MEDIA_TYPES: Readonly<Record<OutputFormat, { ext: string; contentType: string }>> = {
  MP4: { ext: 'mp4', contentType: 'video/mp4' },
  WEBM: { ext: 'webm', contentType: 'video/webm' },
  MOV: { ext: 'mov', contentType: 'video/quicktime' },
};

export type MediaFixtures = Readonly<Record<OutputFormat, Buffer>>;

/** Read the three clips once; the compiled file finds them in dist/simulator/media (copied by the build). */
export function loadFixtures(dir: string = path.join(__dirname, 'media')): MediaFixtures {
  const read = (format: OutputFormat) => fs.readFileSync(path.join(dir, `ovi-sample.${MEDIA_TYPES[format].ext}`));
  return { MP4: read('MP4'), WEBM: read('WEBM'), MOV: read('MOV') };
}

export type ByteRange = { start: number; end: number } | 'unsatisfiable' | null;

/**
 * One `bytes=a-b`, `bytes=a-` or `bytes=-n` range. null means "serve the whole file": no header,
 * a syntax we do not understand, or several ranges (RFC 9110 lets a server ignore Range).
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return null;
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/** Answer a GET/HEAD for a clip: 200 whole, 206 one range, 416 out of range. Returns the status. */
export function sendMedia(req: IncomingMessage, res: ServerResponse, bytes: Buffer, contentType: string): number {
  const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, bytes.length);
  const head = req.method === 'HEAD';
  const common = { 'Content-Type': contentType, 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
  if (range === 'unsatisfiable') {
    res.writeHead(416, { ...common, 'Content-Range': `bytes */${bytes.length}`, 'Content-Length': 0 });
    res.end();
    return 416;
  }
  if (range) {
    const part = bytes.subarray(range.start, range.end + 1);
    res.writeHead(206, { ...common, 'Content-Range': `bytes ${range.start}-${range.end}/${bytes.length}`, 'Content-Length': part.length });
    res.end(head ? undefined : part);
    return 206;
  }
  res.writeHead(200, { ...common, 'Content-Length': bytes.length });
  res.end(head ? undefined : bytes);
  return 200;
}
