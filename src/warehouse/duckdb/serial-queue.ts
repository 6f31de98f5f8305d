/**
 * Runs async tasks one at a time, in call order. A DuckDB connection holds one active query
 * (starting a second closes the first one's pending result), so every caller of a connection
 * goes through its queue.
 *
 * @example
 * ```ts
 * const queue = new SerialQueue();
 * const [a, b] = await Promise.all([queue.run(() => conn.run('select 1')), queue.run(() => conn.run('select 2'))]);
 * ```
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task is its caller's to handle; the next task runs regardless.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once every task queued so far has settled. */
  async idle(): Promise<void> {
    await this.tail;
  }
}
