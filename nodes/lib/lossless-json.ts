/**
 * JSON with exact big integers. Runware seeds go up to 2^63-1, beyond what a JS number holds
 * exactly (2^53), so we:
 *  - stringify: bigint values are written as bare JSON integers with all their digits;
 *  - parse: integer literals beyond Number.MAX_SAFE_INTEGER are read as decimal strings
 *    (not bigints, so the result stays plain JSON-compatible data for Node-RED msgs).
 */
import { randomBytes } from 'crypto';

/**
 * bigint values are written as a marker string, then the marker's quotes are removed. The marker
 * holds a random nonce drawn per call: no user string (nor key) can spell it, so user data can never
 * turn into a bare number in the JSON we send.
 */
export function stringifyLossless(value: unknown): string {
  let mark: string | undefined;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'bigint') return v;
    mark ??= 'ovi-bigint-' + randomBytes(12).toString('hex') + ':';
    return mark + v.toString();
  });
  if (text === undefined || mark === undefined) return text as unknown as string;
  // The mark is [a-z0-9:-] only: safe inside a RegExp as is.
  return text.replace(new RegExp('"' + mark + '(-?\\d+)"', 'g'), '$1');
}

/** Quote integer literals that a JS number cannot hold exactly, outside strings. */
export function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      const next = text[j];
      const isInteger = next !== '.' && next !== 'e' && next !== 'E';
      const token = text.slice(i, j);
      const digits = token.startsWith('-') ? token.length - 1 : token.length;
      if (isInteger && digits >= 16 && !Number.isSafeInteger(Number(token))) {
        out += text.slice(last, i) + '"' + token + '"';
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/** JSON.parse that keeps big integers exact (as decimal strings). Throws SyntaxError like JSON.parse. */
export function parseLossless(text: string): unknown {
  return JSON.parse(quoteUnsafeIntegers(text));
}
