/**
 * The lifecycle every EventLog adapter shares, kept once: one open writer per partition in this
 * process, the consumers to close with the log, and refusing work once the log is closed. The
 * adapter supplies how a writer or consumer is opened; cross-process exclusion stays with it
 * (file lock, NATS lease).
 *
 * @example
 * ```ts
 * const lifecycle = new LogLifecycle<MyWriter, MyConsumer>();
 * const writer = await lifecycle.openWriter(0, () => MyWriter.open(0), () => bumpPartitions());
 * await lifecycle.close(async () => connection.close());
 * ```
 */
import { WeirError } from '../errors/catalogue.js';
import { assertGroup, assertPartition } from './names.js';

interface Closable {
  close(): Promise<void>;
}

interface Writer extends Closable {
  readonly partition: number;
  readonly state: 'open' | 'failed' | 'closed';
}

export class LogLifecycle<W extends Writer, C extends Closable> {
  private readonly writers = new Map<number, W>();
  private readonly opening = new Map<number, Promise<W>>();
  private readonly consumers = new Set<C>();
  private closedFlag = false;

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The open writer of `partition` in this process, if any. */
  writer(partition: number): W | undefined {
    return this.writers.get(partition);
  }

  /**
   * Opens the partition's writer with `open`, after closing a failed one (it must be reopened to
   * recover); `WEIR_LOG_LOCKED` while a healthy one is open or opening here.
   */
  async openWriter(partition: number, open: () => Promise<W>, opened: () => void): Promise<W> {
    this.assertOpen();
    assertPartition(partition);
    const existing = this.writers.get(partition);
    if (existing?.state === 'open' || this.opening.has(partition)) throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: process.pid });
    const opening = (async () => {
      if (existing) await existing.close();
      return open();
    })();
    this.opening.set(partition, opening);
    try {
      const writer = await opening;
      if (this.closedFlag) {
        await writer.close();
        throw new WeirError('WEIR_LOG_CLOSED');
      }
      this.writers.set(partition, writer);
      opened();
      return writer;
    } finally {
      this.opening.delete(partition);
    }
  }

  async addConsumer(group: string, create: () => Promise<C>): Promise<C> {
    this.assertOpen();
    assertGroup(group);
    const consumer = await create();
    if (this.closedFlag) {
      await consumer.close();
      throw new WeirError('WEIR_LOG_CLOSED');
    }
    this.consumers.add(consumer);
    return consumer;
  }

  writerClosed(writer: W): void {
    if (this.writers.get(writer.partition) === writer) this.writers.delete(writer.partition);
  }

  consumerClosed(consumer: C): void {
    this.consumers.delete(consumer);
  }

  /**
   * Marks the log closed (`beforeDrain` runs right after, e.g. to wake waiting polls), closes
   * consumers, waits for writers being opened, closes writers (they flush), then runs `after`.
   * Throws the first error once everything was attempted.
   */
  async close(beforeDrain: () => void, after: () => Promise<void> = async () => undefined): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    beforeDrain();
    const errors: unknown[] = [];
    for (const consumer of [...this.consumers]) await consumer.close().catch((err: unknown) => errors.push(err));
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
    for (const writer of [...this.writers.values()]) await writer.close().catch((err: unknown) => errors.push(err));
    await after().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  }

  assertOpen(): void {
    if (this.closedFlag) throw new WeirError('WEIR_LOG_CLOSED');
  }
}
