/**
 * The task protocol: one request body (a JSON array of tasks) in, one envelope and HTTP status out.
 * No I/O here: the server adds auth, faults and timing around it.
 *
 * Status rule: 200 {"data":[...]} when every task went through; {"errors":[...]} with the status of
 * the first refusal (400, or duplicateAnswer.status) when none did; 200 {"data":[...],"errors":[...]}
 * when mixed. A getResponse for a job whose generations FAILED went through (the service answered
 * about it): their errors come inside a 200, cumulatively (see jobs.ts viewJob).
 *
 * Batch limit (maxBatch > 0): more getResponse tasks than that → 'refuse' answers 400 unsupportedBatch
 * without taskUUIDs and processes nothing; 'partial' answers only the first maxBatch of them.
 */
import { parseLossless } from '../nodes/lib/lossless-json';
import { createJob, viewJob, type Job } from './jobs';
import type { SimulatorOptions } from './options';
import type { Shapes } from './shapes';
import { VIDEO_DOCS, type DataItem, type Envelope, type ErrorEntry } from './protocol';
import type { SimulatorStats } from './stats';
import { validateVideoInference } from './validate';

export interface ApiState {
  jobs: Map<string, Job>;
  stats: SimulatorStats;
}

export interface ApiContext {
  now: number;
  options: SimulatorOptions;
  /** The effective unconfirmed choices (shapes.ts) for this request. */
  shapes: Shapes;
  publicUrl: string;
  /** Draw the failedGeneration fault for a newly accepted job. */
  drawFailure(): boolean;
}

export interface ApiResult {
  status: number;
  envelope: Envelope;
  /** The parsed tasks (empty when the body did not parse), for the request log. */
  tasks: unknown[];
  accepted: Job[];
  /** A one-line account for logs. */
  summary: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A taskUUID to echo back: only strings, and never an unbounded one. */
function echoUUID(v: unknown): string | undefined {
  return typeof v === 'string' ? v.slice(0, 200) : undefined;
}

function requestError(code: string, message: string, tasks: unknown[] = []): ApiResult {
  return { status: 400, envelope: { errors: [{ code, message, type: 'validation' }] }, tasks, accepted: [], summary: code };
}

/** The tasks of a body, or [] when it is not a JSON array (for scripted answers and logs). */
export function parseTasks(text: string): unknown[] {
  try {
    const parsed = parseLossless(text);
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/** Errors pushed with the HTTP status they would give alone (the first one decides a refused request). */
class ErrorList {
  readonly entries: ErrorEntry[] = [];
  firstStatus?: number;
  push(entry: ErrorEntry, status = 400): void {
    this.entries.push(entry);
    this.firstStatus ??= status;
  }
}

export function processApiBody(text: string, state: ApiState, ctx: ApiContext): ApiResult {
  let parsed: unknown;
  try {
    parsed = parseLossless(text);
  } catch {
    return requestError('invalidJSON', 'The request body is not valid JSON.');
  }
  if (!Array.isArray(parsed)) {
    return requestError('invalidRequestBody', 'The request body must be a JSON array of task objects.');
  }
  if (parsed.length === 0) {
    return requestError('invalidRequestBody', 'The request body must contain at least one task.', parsed);
  }
  const tasks: unknown[] = parsed;
  const polls = tasks.filter((t) => isRecord(t) && t.taskType === 'getResponse').length;
  if (polls > 0) {
    state.stats.getResponseRequests++;
    state.stats.getResponseTasks += polls;
  }
  const { maxBatch, batchOverLimit } = ctx.shapes;
  const overLimit = maxBatch > 0 && polls > maxBatch;
  if (overLimit && batchOverLimit === 'refuse') {
    state.stats.batchRefusals++;
    const message =
      maxBatch === 1
        ? 'Only one getResponse task per request is supported: send one request per taskUUID.'
        : `At most ${maxBatch} getResponse tasks per request are supported.`;
    return requestError('unsupportedBatch', message, tasks);
  }
  if (overLimit) state.stats.batchTruncations++;
  let pollsLeft = overLimit ? maxBatch : Infinity;

  const data: DataItem[] = [];
  const errors = new ErrorList();
  const accepted: Job[] = [];
  let succeeded = 0;
  const counts = { accepted: 0, rejected: 0, polled: 0, notFound: 0, skipped: 0, other: 0 };

  for (const task of tasks) {
    if (!isRecord(task)) {
      errors.push({ code: 'invalidTask', message: 'Each task must be a JSON object.', type: 'validation' });
      counts.other++;
      continue;
    }
    const taskUUID = echoUUID(task.taskUUID);
    if (task.taskType === 'getResponse' && pollsLeft-- <= 0) {
      // 'partial': beyond the limit a poll is simply missing from the answer.
      counts.skipped++;
      continue;
    }
    if (task.taskType === 'videoInference') {
      const job = submit(task, state, ctx, errors);
      if (job) {
        accepted.push(job);
        data.push({ taskType: 'videoInference', taskUUID: job.taskUUID });
        succeeded++;
        counts.accepted++;
      } else {
        counts.rejected++;
      }
    } else if (task.taskType === 'getResponse') {
      counts.polled++;
      if (poll(task, state, ctx, data, errors)) succeeded++;
      else counts.notFound++;
    } else {
      counts.other++;
      errors.push(
        task.taskType === undefined
          ? { code: 'missingTaskType', message: "Missing required parameter 'taskType'.", parameter: 'taskType', type: 'string', taskUUID }
          : {
              code: 'unsupportedTaskType',
              message: 'Unsupported taskType: the simulator implements videoInference and getResponse.',
              parameter: 'taskType',
              type: 'string',
              taskUUID,
            },
      );
    }
  }

  const list = errors.entries;
  const envelope: Envelope = succeeded === 0 ? { errors: list } : list.length > 0 ? { data, errors: list } : { data };
  const summary = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  return { status: succeeded === 0 ? (errors.firstStatus ?? 400) : 200, envelope, tasks, accepted, summary };
}

function submit(task: Record<string, unknown>, state: ApiState, ctx: ApiContext, errors: ErrorList): Job | undefined {
  state.stats.submits++;
  const taskUUID = echoUUID(task.taskUUID);
  const base = { taskType: 'videoInference', taskUUID, documentation: VIDEO_DOCS };
  const { issues, accepted } = validateVideoInference(task, { requireInputs: ctx.shapes.requireInputs });
  if (!accepted) {
    state.stats.invalidSubmits++;
    for (const issue of issues) errors.push({ code: issue.code, message: issue.message, parameter: issue.parameter, type: issue.type, ...base });
    return undefined;
  }
  // A retried submit (say, after a lost response) must never start a second job. Its code and
  // status are configurable: no public source gives them.
  if (state.jobs.has(accepted.taskUUID)) {
    state.stats.duplicateRejections++;
    const { code, status } = ctx.shapes.duplicateAnswer;
    errors.push(
      {
        code,
        message: 'A task with this taskUUID was already accepted; poll it with getResponse instead of submitting again.',
        parameter: 'taskUUID',
        type: 'string',
        ...base,
      },
      status,
    );
    return undefined;
  }
  const job = createJob(accepted, { now: ctx.now, renderMs: ctx.options.renderMs, publicUrl: ctx.publicUrl, failRandomly: ctx.drawFailure() });
  state.jobs.set(job.taskUUID, job);
  state.stats.acceptedByUUID[job.taskUUID] = (state.stats.acceptedByUUID[job.taskUUID] ?? 0) + 1;
  state.stats.jobs = state.jobs.size;
  return job;
}

/** Returns false when the task is unknown (which counts as a failed task for the status). */
function poll(task: Record<string, unknown>, state: ApiState, ctx: ApiContext, data: DataItem[], errors: ErrorList): boolean {
  const uuid = task.taskUUID;
  if (typeof uuid !== 'string') {
    errors.push(
      uuid === undefined
        ? { code: 'missingTaskUUID', message: "Missing required parameter 'taskUUID'.", parameter: 'taskUUID', type: 'string', taskType: 'getResponse' }
        : {
            code: 'invalidTaskUUID',
            message: "Invalid value for 'taskUUID' parameter. Must be a string.",
            parameter: 'taskUUID',
            type: 'string',
            taskType: 'getResponse',
          },
    );
    return false;
  }
  const job = state.jobs.get(uuid);
  if (!job) {
    errors.push({
      code: 'taskFailedOrNotFound',
      message: 'No task with this taskUUID was found (never accepted, or forgotten by a simulator reset).',
      taskUUID: uuid.slice(0, 200),
      taskType: 'getResponse',
    });
    return false;
  }
  const view = viewJob(job, ctx.now, ctx.shapes);
  data.push(...view.items);
  for (const e of view.errors) errors.push(e, 200);
  return true;
}
