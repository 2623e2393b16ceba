/** Counters the simulator keeps, read by tests through `sim.stats()` or `GET /__sim/stats`. */
import type { FaultKind } from './faults';

export interface DeliveryCounters {
  /** Webhook POSTs sent (first tries, redeliveries and duplicates). */
  webhookAttempts: number;
  /** Webhook POSTs answered 2xx. */
  webhookDelivered: number;
  /** Webhook deliveries given up after the last retry. */
  webhookFailed: number;
  uploadAttempts: number;
  /** Upload PUTs answered 2xx. */
  uploadsDelivered: number;
  uploadsFailed: number;
}

export interface SimulatorStats extends DeliveryCounters {
  /** POSTs to the API (any outcome, 401 and faults included). */
  apiRequests: number;
  /** API requests carrying at least one getResponse task. */
  getResponseRequests: number;
  getResponseTasks: number;
  /** Requests refused for carrying more than maxBatch getResponse tasks ('refuse'). */
  batchRefusals: number;
  /** Requests answered for their first maxBatch getResponse tasks only ('partial'). */
  batchTruncations: number;
  /** API requests answered from the sim.queueAnswers() script. */
  scriptedAnswers: number;
  /** videoInference tasks received, valid or not. */
  submits: number;
  /** How many times each taskUUID was accepted: never more than 1. */
  acceptedByUUID: Record<string, number>;
  duplicateRejections: number;
  /** videoInference tasks refused by validation. */
  invalidSubmits: number;
  mediaRequests: number;
  faultsInjected: Record<FaultKind, number>;
  /** Jobs known (accepted since start or the last reset). */
  jobs: number;
}

export function createStats(): SimulatorStats {
  return {
    apiRequests: 0,
    getResponseRequests: 0,
    getResponseTasks: 0,
    batchRefusals: 0,
    batchTruncations: 0,
    scriptedAnswers: 0,
    submits: 0,
    acceptedByUUID: {},
    duplicateRejections: 0,
    invalidSubmits: 0,
    mediaRequests: 0,
    webhookAttempts: 0,
    webhookDelivered: 0,
    webhookFailed: 0,
    uploadAttempts: 0,
    uploadsDelivered: 0,
    uploadsFailed: 0,
    faultsInjected: { rateLimit: 0, serverError: 0, reset: 0, malformed: 0, slow: 0, failedGeneration: 0, media: 0 },
    jobs: 0,
  };
}
