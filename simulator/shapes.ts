/**
 * The protocol choices no public source settles (shared/runware-api.md), in one place. The simulator
 * plays `DEFAULT_SHAPES` (the form the evidence favours) unless `shapes: 'alt'` switches every one
 * of them to `ALT_SHAPES` at once, so a client can be tested against both readings in one go. An
 * option set by name (webhookWrap, failureShape, ...) wins over the mode; null hands it back.
 */
import type { BatchOverLimit, DuplicateAnswer, FailureShape, SimulatorOptions, WebhookWrap } from './options';

export interface Shapes {
  webhookWrap: WebhookWrap;
  failureShape: FailureShape;
  progress: boolean;
  /** 0 = no limit. */
  maxBatch: number;
  batchOverLimit: BatchOverLimit;
  duplicateAnswer: DuplicateAnswer;
  requireInputs: boolean;
}

export const DEFAULT_SHAPES: Readonly<Shapes> = Object.freeze({
  // The only real receiver found (deankerr/ig) parses {data:[item]}; no source shows a bare item.
  webhookWrap: 'data',
  // Runware's docs show {"data":[],"errors":[{"code":"timeoutProvider",...}]} for a failed getResponse;
  // both SDKs read errors[] entries by taskUUID. The nested-item form is the alternative.
  failureShape: 'errors',
  // progress exists "for tasks that support progress reporting"; nothing says Ovi does.
  progress: false,
  // The platform says a request carries "as many tasks as you need".
  maxBatch: 0,
  batchOverLimit: 'refuse',
  // Our invention: no public source gives the code of a reused taskUUID.
  duplicateAnswer: Object.freeze({ status: 400, code: 'duplicateTaskUUID' }),
  // The model page advertises text-to-video.
  requireInputs: false,
});

export const ALT_SHAPES: Readonly<Shapes> = Object.freeze({
  webhookWrap: 'bare',
  failureShape: 'item',
  progress: true,
  // Both official SDKs poll one taskUUID per request: maybe because batches are refused.
  maxBatch: 1,
  batchOverLimit: 'refuse',
  // 'conflict*' is a validation family in the SDKs' classifiers; the code itself is invented.
  duplicateAnswer: Object.freeze({ status: 409, code: 'conflictTaskAlreadyExists' }),
  // Runware's generated OviParams marks inputs required for runware:190@1.
  requireInputs: true,
});

/** The effective choices for the live options. */
export function resolveShapes(options: SimulatorOptions): Shapes {
  const base = options.shapes === 'alt' ? ALT_SHAPES : DEFAULT_SHAPES;
  const batch = options.rejectBatchedPoll
    ? { maxBatch: 1, batchOverLimit: 'refuse' as const }
    : { maxBatch: options.maxBatch ?? base.maxBatch, batchOverLimit: options.batchOverLimit ?? base.batchOverLimit };
  return {
    webhookWrap: options.webhookWrap ?? base.webhookWrap,
    failureShape: options.failureShape ?? base.failureShape,
    progress: options.progress ?? base.progress,
    ...batch,
    duplicateAnswer: { ...(options.duplicateAnswer ?? base.duplicateAnswer) },
    requireInputs: options.requireInputs ?? base.requireInputs,
  };
}
