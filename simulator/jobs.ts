/**
 * Jobs: what an accepted videoInference task turns into. Everything a job will ever report
 * (finish times, seeds, videoUUIDs, URLs, failure) is fixed at accept time, so polling and
 * webhooks always tell the same story whatever order they run in.
 */
import { randomInt, randomUUID } from 'crypto';
import { MEDIA_TYPES } from './media';
import type { ErrorEntry, ProcessingItem, SuccessItem } from './protocol';
import { MAX_SEED, type AcceptedTask, type OutputFormat } from './validate';

/** Simulated price of one Ovi result in USD (reported only with includeCost). */
export const COST_PER_RESULT = 0.0437;
/** Prompt markers that force an outcome, for tests and demos. */
export const FAIL_MARKER = '[sim:fail]';
export const SAFETY_MARKER = '[sim:safety]';

export interface JobResult {
  index: number;
  /** Epoch ms at which this result is finished. */
  dueAt: number;
  videoUUID: string;
  videoURL: string;
  seed: bigint;
}

export interface JobFailure {
  code: 'inferenceError' | 'contentModerationFailed';
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
  /** When set, the whole job fails at results[0].dueAt and no result is ever delivered. */
  failure?: JobFailure;
}

export interface JobInit {
  now: number;
  renderMs: number;
  publicUrl: string;
  /** The failedGeneration fault drawn for this job. */
  failRandomly: boolean;
}

function failureFor(prompt: string, failRandomly: boolean): JobFailure | undefined {
  if (prompt.includes(SAFETY_MARKER)) {
    return { code: 'contentModerationFailed', message: 'The generated video was blocked by content moderation.' };
  }
  if (prompt.includes(FAIL_MARKER) || failRandomly) {
    return { code: 'inferenceError', message: 'Video generation failed on the inference provider (simulated).' };
  }
  return undefined;
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
  const results = seeds.map((seed, index) => {
    const videoUUID = randomUUID();
    return {
      index,
      dueAt: init.now + init.renderMs * (1 + 0.25 * index),
      videoUUID,
      videoURL: `${init.publicUrl}/media/${videoUUID}.${ext}`,
      seed,
    };
  });
  return {
    taskUUID: task.taskUUID,
    acceptedAt: init.now,
    outputFormat: task.outputFormat,
    includeCost: task.includeCost,
    webhookURL: task.webhookURL,
    uploadEndpoint: task.uploadEndpoint,
    results,
    failure: failureFor(task.positivePrompt, init.failRandomly),
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

export function failureEntry(job: Job): ErrorEntry {
  const failure = job.failure ?? { code: 'inferenceError', message: 'Video generation failed.' };
  return { code: failure.code, message: failure.message, taskUUID: job.taskUUID, taskType: 'videoInference' };
}

/** When the job's failure becomes visible (it fails at its first finish time). */
export function failsAt(job: Job): number {
  return job.results[0].dueAt;
}

export type JobView = { failed: ErrorEntry } | { items: Array<SuccessItem | ProcessingItem> };

/** What getResponse reports at `now`: finished results, plus one placeholder while any is pending. */
export function viewJob(job: Job, now: number): JobView {
  if (job.failure && now >= failsAt(job)) return { failed: failureEntry(job) };
  const finished = job.failure ? [] : job.results.filter((r) => now >= r.dueAt);
  const items: Array<SuccessItem | ProcessingItem> = finished.map((r) => successItem(job, r));
  if (finished.length < job.results.length) {
    const endAt = job.failure ? failsAt(job) : job.results[job.results.length - 1].dueAt;
    const span = endAt - job.acceptedAt;
    const progress = span <= 0 ? 99 : Math.min(99, Math.max(0, Math.floor((100 * (now - job.acceptedAt)) / span)));
    items.push({ taskType: 'videoInference', taskUUID: job.taskUUID, status: 'processing', progress });
  }
  return { items };
}

/** Whether a result's media may be downloaded: finished, and its job did not fail. */
export function isServable(job: Job, result: JobResult, now: number): boolean {
  return !job.failure && now >= result.dueAt;
}
