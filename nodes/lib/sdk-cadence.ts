/**
 * The poll cadence of Runware's own TypeScript SDK (Runware/runware-typescript v1.6, src/client.ts,
 * executeRest): sleep 1 s, poll; sleep 0.5 s, poll; then each sleep ×1.5 up to 10 s. Every sleep
 * starts when the previous poll's answer is in, and each task gets its own request. This is the
 * yardstick of the poll policy: its request budget and the times it must never be later than.
 */
export const SDK_FIRST_MS = 1000;
export const SDK_SECOND_MS = 500;
export const SDK_FACTOR = 1.5;
export const SDK_CAP_MS = 10_000;

// The sleeps before polls 1..n (index 0 = before poll 1), until the cap repeats.
const DELAYS: number[] = [SDK_FIRST_MS];
for (let d = SDK_SECOND_MS; ; d = Math.min(d * SDK_FACTOR, SDK_CAP_MS)) {
  DELAYS.push(d);
  if (d >= SDK_CAP_MS) break;
}
// Nominal poll times (answers taking no time) after the submit, for polls 1..DELAYS.length.
const NOMINAL: number[] = [];
DELAYS.reduce((t, d) => (NOMINAL.push(t + d), t + d), 0);

/** The SDK's sleep before its poll number k (1-based), in ms times scale. */
export function sdkDelay(k: number, scale = 1): number {
  return DELAYS[Math.min(Math.max(k, 1), DELAYS.length) - 1] * scale;
}

/**
 * The SDK's sleep before poll k, with another cap: below 10 s it tightens the SDK's pace, above it
 * the ×1.5 growth goes on up to the cap (fewer polls than the SDK). capMs is already scaled.
 */
export function cadenceDelay(k: number, capMs: number, scale = 1): number {
  if (k <= 1) return Math.min(SDK_FIRST_MS * scale, capMs);
  const grown = SDK_SECOND_MS * scale * SDK_FACTOR ** (k - 2);
  return Math.min(capMs, capMs > SDK_CAP_MS * scale ? grown : Math.min(grown, SDK_CAP_MS * scale));
}

/** The number of the SDK's first poll at or after `elapsedMs` after the submit, if answers took no time. */
export function sdkPollAtOrAfter(elapsedMs: number, scale = 1): number {
  const last = NOMINAL[NOMINAL.length - 1] * scale;
  if (elapsedMs > last) return NOMINAL.length + Math.ceil((elapsedMs - last) / (SDK_CAP_MS * scale));
  let n = 0;
  while (NOMINAL[n] * scale < elapsedMs) n++;
  return n + 1;
}

/** When the SDK's poll number k (1-based) leaves after the submit, if answers took no time. */
export function sdkNominal(k: number, scale = 1): number {
  if (k <= NOMINAL.length) return NOMINAL[Math.max(k, 1) - 1] * scale;
  return (NOMINAL[NOMINAL.length - 1] + (k - NOMINAL.length) * SDK_CAP_MS) * scale;
}
