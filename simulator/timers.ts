/**
 * Every timer the simulator starts goes through a TimerSet, so `close()` and `reset()` can cancel
 * them all at once: a test can stop the simulator instantly and mocha exits without waiting for a
 * webhook redelivery scheduled seconds ahead.
 */
export class TimerSet {
  private readonly timers = new Set<NodeJS.Timeout>();

  /** Run fn after ms; errors it throws are handed to onError instead of crashing the process. */
  after(ms: number, fn: () => void | Promise<void>, onError: (err: unknown) => void = () => {}): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        try {
          Promise.resolve(fn()).catch(onError);
        } catch (err) {
          onError(err);
        }
      },
      Math.max(0, ms),
    );
    this.timers.add(timer);
  }

  /** A promise that resolves after ms, or never if the set is cleared first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  get size(): number {
    return this.timers.size;
  }
}
