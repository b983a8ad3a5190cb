// Waiting between retries, shared by every long-running service: a doubling backoff and a
// sleep that a stop request can cut short. Waiting for a condition is pollUntil's job.

export interface Backoff {
  /** The next delay, doubling up to the maximum. */
  next(): number;
  reset(): void;
}

export function backoff(initialMs: number, maxMs: number): Backoff {
  let delay = initialMs;
  return {
    next: () => {
      const d = delay;
      delay = Math.min(delay * 2, maxMs);
      return d;
    },
    reset: () => {
      delay = initialMs;
    },
  };
}

/** Sleeps that end early when wake() is called (a service asked to stop). */
export class Sleeper {
  private wakeUp: (() => void) | null = null;
  private woken = false;

  sleep(ms: number): Promise<void> {
    if (this.woken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wakeUp = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  /** Ends the current sleep; with `forever`, every later one returns at once too. */
  wake(forever = false): void {
    if (forever) this.woken = true;
    this.wakeUp?.();
  }
}
