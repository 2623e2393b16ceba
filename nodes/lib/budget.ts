/**
 * An account's spending: the cost total Runware reported, and a budget that holds under bursts.
 * Every job in flight or queued holds a reservation (the estimated cost of its results) until its
 * results report what they cost, so a burst of msgs cannot all pass a check made before any of them
 * was paid for. A job is admitted while spent + reserved < budget, at submit and again when it leaves
 * the queue: the total can pass the budget by at most one job (when its estimate is right).
 */
import { OviError } from './errors';
import type { JobRecord } from './job-hub';

/** Estimated USD per Ovi result before any cost was reported (Runware publishes no fixed price). */
export const DEFAULT_COST_PER_RESULT = 0.15;
/** A per-result cost outside 0..this is not believed (a forged or garbled answer): the estimate counts. */
export const MAX_PLAUSIBLE_COST = 50;

export interface BudgetOptions {
  /** USD; undefined or 0: no budget (costs are still totalled when results report them). */
  limit?: number;
  /** USD per result to reserve before the account has seen real costs; 0/undefined: learned, else DEFAULT_COST_PER_RESULT. */
  estimate?: number;
  /** Stop submitting once a result comes back without a cost (the budget could not count it). */
  requireCost?: boolean;
}

export class Budget {
  private spentTotal = 0;
  private reservedTotal = 0;
  private seen = { sum: 0, count: 0 };
  private missingCost = false;
  private lastWarn = 0;

  constructor(
    private readonly opts: BudgetOptions,
    private readonly warn: (text: string) => void,
  ) {}

  get limited(): boolean {
    return this.opts.limit !== undefined && this.opts.limit > 0;
  }

  get spent(): number {
    return this.spentTotal;
  }

  get reserved(): number {
    return round(this.reservedTotal);
  }

  get limit(): number | null {
    return this.limited ? (this.opts.limit as number) : null;
  }

  /** The persisted total after a restart (checked by the store: finite, >= 0). */
  restore(total: number): void {
    if (Number.isFinite(total) && total >= 0) this.spentTotal = total;
  }

  /** A reservation carried over by a resumed job. */
  carry(rec: JobRecord): void {
    if (typeof rec.reserved === 'number' && Number.isFinite(rec.reserved) && rec.reserved > 0) this.reservedTotal += rec.reserved;
    else rec.reserved = undefined;
  }

  /** USD to reserve per result: the configured estimate, never below the average cost seen; else the default. */
  perResult(): number {
    const seen = this.seen.count > 0 ? this.seen.sum / this.seen.count : undefined;
    if (this.opts.estimate && this.opts.estimate > 0) return Math.max(this.opts.estimate, seen ?? 0);
    return seen ?? DEFAULT_COST_PER_RESULT;
  }

  /** A new job asks to be sent (now or when it leaves the queue): reserve its estimate, or refuse. */
  admit(rec: JobRecord): void {
    if (!this.limited) return;
    const limit = this.opts.limit as number;
    const own = rec.reserved ?? 0;
    if (this.opts.requireCost && this.missingCost) {
      throw this.refusal(rec, 'results of this account come back without a cost, and the ovi-config node requires one to keep its budget: nothing was sent');
    }
    if (this.spentTotal + this.reservedTotal - own >= limit) {
      const held = this.reservedTotal - own > 0 ? ' + $' + round(this.reservedTotal - own) + ' held for jobs in flight' : '';
      throw this.refusal(
        rec,
        'the budget of $' + limit + ' set on the ovi-config node is reached ($' + round(this.spentTotal) + ' spent' + held + '): nothing was sent',
      );
    }
    if (own === 0) {
      rec.reserved = round(this.perResult() * rec.numberResults);
      this.reservedTotal += rec.reserved;
    }
  }

  /** A result arrived: count its cost (or the estimate, when it has none or an implausible one). */
  result(rec: JobRecord, cost: unknown): void {
    const remaining = Math.max(1, rec.numberResults - (rec.delivered.length - 1) - rec.failed.length);
    const share = rec.reserved ? rec.reserved / remaining : 0;
    if (rec.reserved) {
      rec.reserved = round(rec.reserved - share);
      this.reservedTotal = Math.max(0, this.reservedTotal - share);
    }
    let counted: number;
    if (typeof cost === 'number' && Number.isFinite(cost) && cost >= 0 && cost <= MAX_PLAUSIBLE_COST) {
      counted = cost;
      this.seen.sum += cost;
      this.seen.count++;
    } else if (cost === undefined || cost === null) {
      if (!this.limited) return;
      this.missingCost = true;
      counted = share || this.perResult();
      this.warnOnce('a result of task ' + rec.taskUUID + ' carries no cost: the budget counts it at the estimate ($' + round(counted) + ')');
    } else {
      counted = this.limited ? share || this.perResult() : 0;
      this.warnOnce(
        'refused the implausible cost ' +
          String(cost).slice(0, 40) +
          ' reported for task ' +
          rec.taskUUID +
          (this.limited ? ': counted at the estimate ($' + round(counted) + ')' : ''),
      );
    }
    this.spentTotal = round(this.spentTotal + counted);
  }

  /** The job ended (or never started): what it still holds goes back. */
  release(rec: JobRecord): void {
    if (rec.reserved) this.reservedTotal = Math.max(0, this.reservedTotal - rec.reserved);
    rec.reserved = undefined;
  }

  private refusal(rec: JobRecord, message: string): OviError {
    return new OviError({ code: 'quota', rawCode: 'budgetReached', taskUUID: rec.taskUUID, retryable: false, message });
  }

  private warnOnce(text: string): void {
    const now = Date.now();
    if (now - this.lastWarn < 60_000) return;
    this.lastWarn = now;
    this.warn('ovi: ' + text);
  }
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
