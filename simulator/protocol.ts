/** The JSON shapes the simulator puts on the wire (see shared/runware-api.md). */

export interface ErrorEntry {
  /** Short camelCase identifier, e.g. invalidSteps, taskFailedOrNotFound, inferenceError. */
  code: string;
  message: string;
  /** Offending field (dotted path); an array when a rule involves several fields. */
  parameter?: string | string[];
  type?: string;
  taskType?: string;
  taskUUID?: string;
  /** 'error' on the entry of a failed generation (getResponse or webhook). */
  status?: 'error';
  documentation?: string;
}

export interface AckItem {
  taskType: 'videoInference';
  taskUUID: string;
}

export interface ProcessingItem {
  taskType: 'videoInference';
  taskUUID: string;
  status: 'processing';
  /** 0..99, only with the `progress` option. */
  progress?: number;
}

export interface SuccessItem {
  taskType: 'videoInference';
  taskUUID: string;
  status: 'success';
  videoUUID: string;
  videoURL: string;
  /** A bigint when beyond 2^53, written as exact JSON digits by stringifyLossless. */
  seed: number | bigint;
  /** USD, only when the task asked for includeCost. */
  cost?: number;
}

/** A failed generation as a data[] item (failureShape 'item'; GetResponseResult.error in Runware's types). */
export interface ErrorItem {
  taskType: 'videoInference';
  taskUUID: string;
  status: 'error';
  error: { code: string; message: string };
}

export type DataItem = AckItem | ProcessingItem | SuccessItem | ErrorItem;

export interface Envelope {
  data?: DataItem[];
  errors?: ErrorEntry[];
}

export const VIDEO_DOCS = 'https://runware.ai/docs/en/video-inference/api-reference';
