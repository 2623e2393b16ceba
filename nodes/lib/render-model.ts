/**
 * How long this account's renders take, learned from what polling observed: for each kind of task
 * (steps, image-to-video or not, numberResults, which result) the last few detection intervals.
 * It answers "between when and when after the submit is result i of such a task likely ready?",
 * which the poll policy turns into dense polling there and none elsewhere. No clock, no I/O.
 */
export interface TaskFeatures {
  numberResults: number;
  steps?: number;
  hasImage?: boolean;
}

/** ms after the submit. */
export interface Window {
  from: number;
  to: number;
}

interface Sample {
  lo: number; // the last poll that saw it pending (ms after submit)
  hi: number; // the poll that saw it ready
  steps?: number;
}

const KEEP = 32; // samples per kind: recent enough to follow a change in Runware's load
const MAX_KINDS = 64;
const ENOUGH = 5; // samples of the very kind before its own range is trusted over the pooled one
/** Ovi's steps when a task leaves them out (Runware's default, task-schema.ts serviceDefault). */
const DEFAULT_STEPS = 30;

function exactKey(f: TaskFeatures, index: number): string {
  return (f.steps ?? DEFAULT_STEPS) + '|' + (f.hasImage ? 'i2v' : 't2v') + '|' + f.numberResults + '|' + index;
}

function broadKey(f: TaskFeatures, index: number): string {
  return f.numberResults + '|' + index;
}

export class RenderModel {
  private readonly kinds = new Map<string, Sample[]>();
  /** Bumped on every sample: a cached window is stale when this moved. */
  version = 0;

  get samples(): number {
    let n = 0;
    for (const s of this.kinds.values()) n += s.length;
    return n;
  }

  /** Result `index` of a task with features f was ready between lo and hi ms after its submit. */
  observe(f: TaskFeatures, index: number, lo: number, hi: number): void {
    if (!(hi > 0) || !(lo <= hi)) return;
    const sample: Sample = { lo: Math.max(0, lo), hi, steps: f.steps ?? DEFAULT_STEPS };
    for (const key of [exactKey(f, index), 'any|' + broadKey(f, index)]) {
      let list = this.kinds.get(key);
      if (!list) {
        if (this.kinds.size >= MAX_KINDS) this.kinds.delete(this.kinds.keys().next().value as string);
        this.kinds.set(key, (list = []));
      }
      list.push(sample);
      if (list.length > KEEP) list.shift();
    }
    this.version++;
  }

  /**
   * Where result `index` of such a task is likely to be ready, or undefined when nothing like it was
   * seen yet (the policy then polls as the SDK would). Few samples give a wide window.
   */
  window(f: TaskFeatures, index: number): Window | undefined {
    const exact = this.kinds.get(exactKey(f, index));
    if (exact && exact.length >= ENOUGH) return spread(exact, undefined, 0);
    const pooled = this.kinds.get('any|' + broadKey(f, index));
    if (!pooled || pooled.length === 0) return undefined;
    // Other step counts or inputs too: render time grows about with the steps; widen for the rest.
    return spread(pooled, f.steps ?? DEFAULT_STEPS, 0.15);
  }
}

/** The samples' range (scaled to `steps` when given), widened. */
function spread(samples: Sample[], steps: number | undefined, extra: number): Window {
  let from = Infinity;
  let to = 0;
  for (const s of samples) {
    const k = steps !== undefined && s.steps ? steps / s.steps : 1;
    from = Math.min(from, s.lo * k);
    to = Math.max(to, s.hi * k);
  }
  // A new draw falls outside n samples' range with chance about 2/(n+1): widen by a margin that shrinks with n.
  const margin = 0.1 + extra + 0.4 / Math.sqrt(samples.length);
  return { from: from * (1 - margin), to: to * (1 + margin) };
}
