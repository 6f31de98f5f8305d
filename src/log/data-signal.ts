/**
 * Wakes consumers waiting in `poll` when new records become readable, shared by the adapters.
 *
 * @example
 * ```ts
 * const signal = new DataSignal();
 * await signal.wait(500, abortSignal); // resolves after 500 ms, on notify(), or on abort
 * signal.notify();
 * ```
 */
export class DataSignal {
  private waiters = new Set<() => void>();

  /** Resolves after `ms`, or earlier on {@link notify} or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  notify(): void {
    if (this.waiters.size === 0) return;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }
}
