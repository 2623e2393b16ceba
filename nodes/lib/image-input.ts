/**
 * A flow's image usually arrives as a Buffer (a camera snapshot). Runware takes images as strings,
 * so a Buffer becomes a data URI after we check its magic bytes: what is not a PNG, JPEG or WEBP is
 * refused here, with a clear error, rather than by Runware after a paid round trip.
 */
import { OviError } from './errors';
import { sizeText } from './safe-download';

export const DEFAULT_MAX_IMAGE_BYTES = 10 * 1024 * 1024;

export function sniffImageType(buf: Uint8Array): 'image/png' | 'image/jpeg' | 'image/webp' | undefined {
  const at = (i: number) => buf[i];
  if (
    buf.length >= 8 &&
    at(0) === 0x89 &&
    at(1) === 0x50 &&
    at(2) === 0x4e &&
    at(3) === 0x47 &&
    at(4) === 0x0d &&
    at(5) === 0x0a &&
    at(6) === 0x1a &&
    at(7) === 0x0a
  )
    return 'image/png';
  if (buf.length >= 3 && at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && String.fromCharCode(at(0), at(1), at(2), at(3)) === 'RIFF' && String.fromCharCode(at(8), at(9), at(10), at(11)) === 'WEBP')
    return 'image/webp';
  return undefined;
}

/** A Buffer that went through JSON (e.g. a link call or a context store) looks like this. */
function asBuffer(value: unknown): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  // Any typed array, from any realm (a function node's vm context has its own Uint8Array).
  if (ArrayBuffer.isView(value) && !(Object.prototype.toString.call(value) === '[object DataView]'))
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const v = value as { type?: unknown; data?: unknown } | null;
  if (v && typeof v === 'object' && v.type === 'Buffer' && Array.isArray(v.data) && v.data.length <= DEFAULT_MAX_IMAGE_BYTES * 2) {
    if (!v.data.every((b) => typeof b === 'number' && b >= 0 && b <= 255 && Number.isInteger(b))) return undefined;
    return Buffer.from(v.data as number[]);
  }
  return undefined;
}

/**
 * Normalise an image given by a msg or a node setting: Buffers become data URIs; strings pass through
 * for the schema to check; anything else is an error naming where it came from.
 */
export function imageToInput(value: unknown, source: string, maxBytes = DEFAULT_MAX_IMAGE_BYTES): string {
  if (typeof value === 'string') return value;
  const buf = asBuffer(value);
  if (!buf) {
    throw new OviError({
      code: 'validation',
      parameter: 'inputs.image',
      message: source + ' must be a Buffer holding a PNG, JPEG or WEBP image, or a string (UUID, URL, data URI, base64)',
    });
  }
  if (buf.length === 0) throw new OviError({ code: 'validation', parameter: 'inputs.image', message: source + ' is an empty Buffer' });
  if (buf.length > maxBytes) {
    throw new OviError({
      code: 'validation',
      parameter: 'inputs.image',
      message: source + ' is ' + sizeText(buf.length) + ', more than the ' + sizeText(maxBytes) + ' allowed',
    });
  }
  const type = sniffImageType(buf);
  if (!type)
    throw new OviError({
      code: 'validation',
      parameter: 'inputs.image',
      message: source + ' is not a PNG, JPEG or WEBP image (its first bytes do not match any)',
    });
  return 'data:' + type + ';base64,' + buf.toString('base64');
}
