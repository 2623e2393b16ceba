/**
 * Everything one Runware account (one ovi-config node) owns: the client, the tasks in flight, the
 * poll scheduler and the concurrency cap with its FIFO queue. No Node-RED imports: the config node
 * is a thin shell around this.
 */
import { OviError } from './errors';
import { JobHub, JobRecord, Sink } from './job-hub';
import { DEFAULT_TIMING, Logger, PollScheduler, PollTiming } from './poll-scheduler';
import { ClientOptions, ResultItem, RunwareClient } from './runware-client';

export interface AccountOptions extends ClientOptions {
  maxConcurrent: number; // jobs in flight at once; 0 = no cap
  logger: Logger;
  onChange?: () => void; // in-flight or queue counts changed (for node.status)
}

interface Waiting {
  start: () => void;
  reject: (err: OviError) => void;
}

export class Account {
  readonly client: RunwareClient;
  readonly hub: JobHub;
  readonly scheduler: PollScheduler;
  private readonly queue: Waiting[] = [];
  private submitting = 0;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly opts: AccountOptions) {
    this.client = new RunwareClient(opts);
    this.hub = new JobHub({
      finished: (rec) => {
        this.scheduler.unwatch(rec.taskUUID);
        this.pump();
      },
      orphan: (rec, what) =>
        opts.logger.warn('ovi: task ' + rec.taskUUID + ' has ' + what + ' but no ovi poll or ovi webhook node owns it (send its taskUUID to an ovi poll node to collect it)'),
    });
    this.scheduler = new PollScheduler(this.client, this.hub, opts.logger);
  }

  get running(): number {
    return this.hub.inFlight().length;
  }

  get queued(): number {
    return this.queue.length;
  }

  private hasSlot(): boolean {
    return this.opts.maxConcurrent <= 0 || this.running + this.submitting < this.opts.maxConcurrent;
  }

  /** FIFO: resolves once a slot is reserved for the caller (a job in flight finished). */
  private acquire(onQueued?: () => void): Promise<void> {
    if (this.closed) return Promise.reject(cancelledError());
    if (this.queue.length === 0 && this.hasSlot()) {
      this.submitting++;
      return Promise.resolve();
    }
    onQueued?.();
    return new Promise((resolve, reject) => {
      this.queue.push({ start: resolve, reject });
      this.opts.onChange?.();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.hasSlot()) {
      // Reserve the slot before the waiter runs, so two finishing jobs cannot start one waiter twice.
      this.submitting++;
      const next = this.queue.shift();
      next?.start();
    }
    this.opts.onChange?.();
  }

  /**
   * Record the job, then submit it. The record exists before the HTTP request so a webhook that
   * arrives before the acknowledgment is correlated; it is dropped again if Runware refused the task.
   */
  async submit(task: Record<string, unknown> & { taskUUID: string }, rec: JobRecord | undefined, onQueued?: () => void): Promise<ResultItem> {
    if (!rec) {
      // Results go to a URL outside this Node-RED: nothing to track, only the request to make.
      return this.client.submit(task, this.abort.signal);
    }
    const existing = this.hub.get(rec.taskUUID);
    if (existing && !existing.done) {
      throw new OviError({ code: 'validation', rawCode: 'duplicateTaskUUID', parameter: 'taskUUID', taskUUID: rec.taskUUID, message: 'task ' + rec.taskUUID + ' is already in flight: not submitted again' });
    }
    await this.acquire(onQueued);
    this.hub.add(rec);
    try {
      const ack = await this.client.submit(task, this.abort.signal);
      return ack;
    } catch (e) {
      this.hub.drop(rec.taskUUID);
      throw e;
    } finally {
      this.submitting--;
      this.pump();
    }
  }

  /** Start polling a recorded task (now, or at the given time). */
  poll(uuid: string, timing: PollTiming = DEFAULT_TIMING, startAt?: number): void {
    this.scheduler.watch(uuid, timing, startAt);
  }

  addSink(id: string, sink: Sink): void {
    this.hub.addSink(id, sink);
  }

  removeSink(id: string, sink: Sink): void {
    this.hub.removeSink(id, sink);
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    for (const w of this.queue.splice(0)) w.reject(cancelledError());
    this.scheduler.close();
    this.hub.close();
    this.client.close();
  }
}

function cancelledError(): OviError {
  return new OviError({ code: 'cancelled', message: 'the ovi-config node was closed or redeployed before this task was submitted', retryable: false });
}
