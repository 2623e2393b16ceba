/**
 * Jobs: what an accepted videoInference task turns into. Everything a job will ever report
 * (finish times, seeds, videoUUIDs, URLs, which generations fail and how) is fixed at accept time,
 * so polling and webhooks always tell the same story whatever order they run in. Each generation
 * succeeds or fails on its own, at its own finish time.
 */
import { randomInt, randomUUID } from 'crypto';
import { MEDIA_TYPES } from './media';
import type { DataItem, ErrorEntry, ErrorItem, ProcessingItem, SuccessItem } from './protocol';
import type { FailureShape } from './options';
import { MAX_SEED, type AcceptedTask, type OutputFormat } from './validate';

/** Simulated price of one Ovi result in USD (reported only with includeCost). */
export const COST_PER_RESULT = 0.0437;
/** Prompt markers that fail every generation of a task, for tests and demos. */
export const FAIL_MARKER = '[sim:fail]';
export const SAFETY_MARKER = '[sim:safety]';
/** `[sim:fail:I]` / `[sim:safety:I]`: only generation I (0-based) fails. */
const GENERATION_MARKER = /\[sim:(fail|safety):(\d{1,2})\]/g;

/** A provider-side failure: the code Runware's docs and SDKs use for a failed inference. */
export const PROVIDER_FAILURE: Readonly<JobFailure> = Object.freeze({
  code: 'inferenceError',
  message: 'Video generation failed on the inference provider (simulated).',
});
/** A content-policy failure: contentPolicyViolation is in both SDKs' safety family. */
export const SAFETY_FAILURE: Readonly<JobFailure> = Object.freeze({
  code: 'contentPolicyViolation',
  message: 'The generated video was blocked by the content policy (simulated).',
});

export interface JobResult {
  index: number;
  /** Epoch ms at which this result is finished. */
  dueAt: number;
  videoUUID: string;
  videoURL: string;
  seed: bigint;
  /** When set, this generation fails at dueAt and never has media. */
  failure?: JobFailure;
}

export interface JobFailure {
  code: string;
  message: string;
}

export interface Job {
  taskUUID: string;
  acceptedAt: number;
  outputFormat: OutputFormat;
  includeCost: boolean;
  webhookURL?: string;
  uploadEndpoint?: string;
  results: JobResult[];
}

export interface JobInit {
  now: number;
  renderMs: number;
  publicUrl: string;
  /** The failedGeneration fault drawn for this job: every generation fails. */
  failRandomly: boolean;
}

/** The failure of each generation (undefined: it succeeds), from the prompt markers and the fault. */
function failuresFor(prompt: string, count: number, failRandomly: boolean): Array<JobFailure | undefined> {
  const whole = prompt.includes(SAFETY_MARKER) ? SAFETY_FAILURE : prompt.includes(FAIL_MARKER) || failRandomly ? PROVIDER_FAILURE : undefined;
  const out: Array<JobFailure | undefined> = Array.from({ length: count }, () => whole);
  if (whole) return out;
  for (const m of prompt.matchAll(GENERATION_MARKER)) {
    const i = Number(m[2]);
    if (i < count) out[i] = m[1] === 'safety' ? SAFETY_FAILURE : (out[i] ?? PROVIDER_FAILURE);
  }
  return out;
}

/** Seeds of the results: the task's seed plus i (wrapping past 2^63-1), else distinct random uint32s. */
function seedsFor(seed: bigint | undefined, count: number): bigint[] {
  if (seed !== undefined) {
    return Array.from({ length: count }, (_, i) => {
      const s = seed + BigInt(i);
      return s > MAX_SEED ? s - MAX_SEED - 1n : s;
    });
  }
  const picked = new Set<number>();
  while (picked.size < count) picked.add(randomInt(0, 2 ** 32));
  return [...picked].map((n) => BigInt(n));
}

export function createJob(task: AcceptedTask, init: JobInit): Job {
  const ext = MEDIA_TYPES[task.outputFormat].ext;
  const seeds = seedsFor(task.seed, task.numberResults);
  const failures = failuresFor(task.positivePrompt, task.numberResults, init.failRandomly);
  const results = seeds.map((seed, index): JobResult => {
    const videoUUID = randomUUID();
    const result: JobResult = {
      index,
      dueAt: init.now + init.renderMs * (1 + 0.25 * index),
      videoUUID,
      videoURL: `${init.publicUrl}/media/${videoUUID}.${ext}`,
      seed,
    };
    const failure = failures[index];
    if (failure) result.failure = { ...failure };
    return result;
  });
  return {
    taskUUID: task.taskUUID,
    acceptedAt: init.now,
    outputFormat: task.outputFormat,
    includeCost: task.includeCost,
    webhookURL: task.webhookURL,
    uploadEndpoint: task.uploadEndpoint,
    results,
  };
}

export function successItem(job: Job, result: JobResult): SuccessItem {
  const item: SuccessItem = {
    taskType: 'videoInference',
    taskUUID: job.taskUUID,
    status: 'success',
    videoUUID: result.videoUUID,
    videoURL: result.videoURL,
    seed: result.seed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(result.seed) : result.seed,
  };
  if (job.includeCost) item.cost = COST_PER_RESULT;
  return item;
}

/** A failed generation as an errors[] entry (failureShape 'errors'). */
export function failureEntry(job: Job, result: JobResult): ErrorEntry {
  const failure = result.failure ?? PROVIDER_FAILURE;
  return { code: failure.code, message: failure.message, taskUUID: job.taskUUID, taskType: 'videoInference', status: 'error' };
}

/** A failed generation as a data[] item with a nested error (failureShape 'item'). */
export function failureItem(job: Job, result: JobResult): ErrorItem {
  const failure = result.failure ?? PROVIDER_FAILURE;
  return { taskType: 'videoInference', taskUUID: job.taskUUID, status: 'error', error: { code: failure.code, message: failure.message } };
}

export interface ViewOptions {
  progress: boolean;
  failureShape: FailureShape;
}

/**
 * What getResponse reports at `now`, cumulatively: every finished generation (success, or failure in
 * the configured shape), plus one processing placeholder while any generation is pending.
 */
export function viewJob(job: Job, now: number, view: ViewOptions): { items: DataItem[]; errors: ErrorEntry[] } {
  const items: DataItem[] = [];
  const errors: ErrorEntry[] = [];
  let pending = 0;
  for (const r of job.results) {
    if (now < r.dueAt) pending++;
    else if (!r.failure) items.push(successItem(job, r));
    else if (view.failureShape === 'item') items.push(failureItem(job, r));
    else errors.push(failureEntry(job, r));
  }
  if (pending > 0) {
    const placeholder: ProcessingItem = { taskType: 'videoInference', taskUUID: job.taskUUID, status: 'processing' };
    if (view.progress) {
      const span = job.results[job.results.length - 1].dueAt - job.acceptedAt;
      placeholder.progress = span <= 0 ? 99 : Math.min(99, Math.max(0, Math.floor((100 * (now - job.acceptedAt)) / span)));
    }
    items.push(placeholder);
  }
  return { items, errors };
}

/** Whether a result's media may be downloaded: finished, and its generation did not fail. */
export function isServable(result: JobResult, now: number): boolean {
  return !result.failure && now >= result.dueAt;
}
