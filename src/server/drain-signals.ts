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
