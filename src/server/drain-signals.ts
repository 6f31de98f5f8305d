import type { Logger } from '../observability/logger.js';

/**
 * Calls `drain` when a `weir up` child process is asked to stop: SIGTERM, SIGINT (Ctrl-C reaches
 * the whole process group), the supervisor's `weir:drain` message, or the supervisor going away
 * (its IPC channel closes), so no child outlives it.
 *
 * @example
 * ```ts
 * onDrainRequest(() => void drain(0));
 * ```
 */
export function onDrainRequest(drain: () => void): void {
  process.on('SIGTERM', drain);
  process.on('SIGINT', drain);
  process.on('message', (m: { type?: string }) => {
    if (m?.type === 'weir:drain') drain();
  });
  process.on('disconnect', drain);
}

/**
 * The drain of a `weir up` child process, once however often it is asked: `close` runs the
 * process's own shutdown steps in order; if they take longer than `timeoutMs` the process exits 1
 * anyway, and a failed step turns exit code 0 into 1. Also installs {@link onDrainRequest}.
 *
 * @example
 * ```ts
 * const drain = drainOnce({ logger, timeoutMs: 10_000, close: async () => { await app.close(); } });
 * void drain(3); // a specific exit code, e.g. after an fsync failure
 * ```
 */
export function drainOnce(opts: { logger: Logger; timeoutMs: number; close(): Promise<void> }): (code?: number) => Promise<void> {
  let drained: Promise<void> | undefined;
  const drain = (code = 0): Promise<void> => {
    drained ??= (async () => {
      const force = setTimeout(() => {
        opts.logger.error('drain timed out; exiting');
        process.exit(1);
      }, opts.timeoutMs);
      force.unref();
      try {
        await opts.close();
        opts.logger.info('drained');
      } catch (err) {
        opts.logger.error({ err }, 'drain failed');
        code = code || 1;
      }
      process.exit(code);
    })();
    return drained;
  };
  onDrainRequest(() => void drain());
  return drain;
}
