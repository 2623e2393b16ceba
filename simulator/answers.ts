/**
 * Scripted answers: the next API requests get exactly this status and JSON body, whatever they
 * asked. They let a client be tested against shapes the simulator never produces by itself: an
 * errors[] entry without taskUUID, a 5xx naming a non-retryable code, a 200 that answers only some
 * of the batched tasks. Taken after authentication and before any fault.
 */
import { OptionError } from './options';

export interface ScriptedAnswer {
  /** HTTP status to send (100..599). */
  status: number;
  /** The JSON body, or (library only) a function of the request's parsed tasks ([] if unparsable). */
  body: unknown;
  /** Extra response headers (Content-Type defaults to JSON). */
  headers?: Record<string, string>;
  /** Process the tasks first (jobs accepted, deliveries armed), like an answer lost on the way. Default false. */
  process?: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check one answer (over HTTP a body is plain JSON; only the library can pass a function). */
export function checkAnswer(value: unknown, where: string): ScriptedAnswer {
  if (!isRecord(value)) throw new OptionError(`${where} must be an object {status, body, headers?, process?}`);
  for (const key of Object.keys(value)) {
    if (!['status', 'body', 'headers', 'process'].includes(key)) throw new OptionError(`unknown key ${where}.${key}`);
  }
  const { status, body, headers, process } = value;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new OptionError(`${where}.status must be an HTTP status (100..599)`);
  }
  if (body === undefined) throw new OptionError(`${where}.body is required (null is a valid JSON body)`);
  if (headers !== undefined && (!isRecord(headers) || Object.values(headers).some((h) => typeof h !== 'string'))) {
    throw new OptionError(`${where}.headers must map names to strings`);
  }
  if (process !== undefined && typeof process !== 'boolean') throw new OptionError(`${where}.process must be true or false`);
  return { status, body, headers: headers as Record<string, string> | undefined, process: process === true };
}

/** The body to send for this answer and request. */
export function answerBody(answer: ScriptedAnswer, tasks: unknown[]): unknown {
  return typeof answer.body === 'function' ? (answer.body as (tasks: unknown[]) => unknown)(tasks) : answer.body;
}

export class AnswerQueue {
  private queue: ScriptedAnswer[] = [];

  /** Check every answer first: nothing is queued when one is wrong. */
  enqueue(answers: readonly unknown[]): void {
    if (!Array.isArray(answers)) throw new OptionError('answers must be an array');
    const checked = answers.map((a, i) => checkAnswer(a, `answers[${i}]`));
    this.queue.push(...checked);
  }

  next(): ScriptedAnswer | undefined {
    return this.queue.shift();
  }

  clear(): void {
    this.queue = [];
  }

  get size(): number {
    return this.queue.length;
  }
}
