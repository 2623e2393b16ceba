/**
 * Fault injection. Random faults come from a small seeded PRNG so a failing run can be replayed
 * with the same `randomSeed`; queued faults (`sim.queueFaults`) are taken first, in order, so a
 * test can script exactly which request breaks and how.
 */
import { OptionError, type FaultOptions } from './options';

/** What happens to one API request. */
export type RequestFault =
  { kind: 'none' } | { kind: 'rateLimit' } | { kind: 'serverError'; status: number } | { kind: 'reset' } | { kind: 'malformed' } | { kind: 'slow' };

export type FaultKind = Exclude<RequestFault['kind'], 'none'> | 'failedGeneration' | 'media';

/** Names accepted by `queueFaults`: an HTTP status (429, 5xx) or a fault kind. */
export type QueuedFaultName = '429' | '500' | '502' | '503' | '504' | 'rateLimit' | 'serverError' | 'reset' | 'malformed' | 'slow' | 'none';

export const QUEUED_FAULT_NAMES: readonly QueuedFaultName[] = [
  '429',
  '500',
  '502',
  '503',
  '504',
  'rateLimit',
  'serverError',
  'reset',
  'malformed',
  'slow',
  'none',
];

/** mulberry32: tiny, fast and good enough to spread faults; not for anything secret. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function parseQueuedFault(name: string): RequestFault {
  switch (name) {
    case '429':
    case 'rateLimit':
      return { kind: 'rateLimit' };
    case 'serverError':
      return { kind: 'serverError', status: 500 };
    case 'reset':
    case 'malformed':
    case 'slow':
    case 'none':
      return { kind: name };
    default:
      if (/^5\d\d$/.test(name)) return { kind: 'serverError', status: Number(name) };
      throw new OptionError(`unknown fault '${name}'; use one of ${QUEUED_FAULT_NAMES.join(', ')}`);
  }
}

const SERVER_STATUSES = [500, 502, 503];

export class FaultInjector {
  private rng: () => number;
  private queue: RequestFault[] = [];

  constructor(seed: number) {
    this.rng = createRng(seed);
  }

  reseed(seed: number): void {
    this.rng = createRng(seed);
  }

  enqueue(names: readonly string[]): void {
    const parsed = names.map((n) => parseQueuedFault(String(n)));
    this.queue.push(...parsed);
  }

  clearQueue(): void {
    this.queue = [];
  }

  get queued(): number {
    return this.queue.length;
  }

  /** The fault for the next API request: queued first, else one uniform draw over the odds. */
  next(faults: FaultOptions): RequestFault {
    const queued = this.queue.shift();
    if (queued) return queued;
    const odds: Array<[Exclude<RequestFault['kind'], 'none'>, number]> = [
      ['rateLimit', faults.rateLimit],
      ['serverError', faults.serverError],
      ['reset', faults.reset],
      ['malformed', faults.malformed],
      ['slow', faults.slow],
    ];
    // No draw when every odd is 0, so switching faults off leaves the sequence untouched.
    if (!odds.some(([, p]) => p > 0)) return { kind: 'none' };
    let u = this.rng();
    for (const [kind, p] of odds) {
      if (u < p) {
        if (kind === 'serverError') return { kind, status: SERVER_STATUSES[Math.floor(this.rng() * SERVER_STATUSES.length)] };
        return { kind };
      }
      u -= p;
    }
    return { kind: 'none' };
  }

  /** True with probability p (no draw when p is 0). */
  chance(p: number): boolean {
    return p > 0 && this.rng() < p;
  }
}

/** A proper prefix of a JSON object or array is never valid JSON: what a cut-off body looks like. */
export function truncateJson(text: string): string {
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}
