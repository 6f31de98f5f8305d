import { WeirError } from '../../errors/catalogue.js';
import type { LogConsumer, LogRecord } from '../event-log.js';
import type { FileLayer } from '../file-layer.js';
import type { CorruptionReporter } from './corruption.js';
import type { HeadState } from './head.js';
import { assertPartition, type PartitionLayout } from './layout.js';
import { readCommitted, writeCommitted } from './offsets.js';
import { PartitionReader } from './partition-reader.js';
import { READ_CHUNK_BYTES } from './segment-scanner.js';

/** What a consumer needs from the log it belongs to. */
export interface ConsumerHost {
  readonly fileLayer: FileLayer;
  readonly reporter: CorruptionReporter;
  layout(partition: number): PartitionLayout;
  head(partition: number): Promise<HeadState>;
  /** Offset the next durable record of the partition will get. */
  durableNext(partition: number): Promise<number>;
  /** First offset still retained. */
  firstRetained(partition: number): Promise<number>;
  partitions(): Promise<number[]>;
  /** Bumped whenever a writer of this log creates or opens a partition. */
  readonly partitionsVersion: number;
  /** Resolves after `ms`, or earlier when new data becomes durable or `signal` aborts. */
  waitForData(ms: number, signal?: AbortSignal): Promise<void>;
  consumerClosed(consumer: FileLogConsumer): void;
}

/** How often partition directories are listed again, to pick up partitions created elsewhere. */
const RELIST_MS = 1_000;
/** File-poll interval while waiting: the fallback when the writer is in another process. */
const POLL_INTERVAL_MS = 15;

/**
 * A consumer group member reading every partition of a file log.
 *
 * @example
 * ```ts
 * const consumer = await log.consumer('warehouse');
 * const batch = await consumer.poll({ maxRecords: 500, maxWaitMs: 1000 });
 * await consumer.commit();
 * ```
 */
export class FileLogConsumer implements LogConsumer {
  private readonly readers = new Map<number, PartitionReader>();
  /** What is in the `consumers/<group>` files, as far as this consumer knows. */
  private readonly committed = new Map<number, number>();
  private readonly chunk = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  private lastListed = 0;
  private seenVersion = -1;
  private rotation = 0;
  private closed = false;
  /** Serialises polls and commits: a reader is not re-entrant. */
  private busy: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly host: ConsumerHost,
    readonly group: string,
    private readonly ephemeral: boolean,
  ) {}

  /**
   * Positions every existing partition: a group's committed offset, else `start`. A
   * non-ephemeral group without a committed offset is registered at that start, which makes it
   * hold back retention from now on.
   */
  static async create(host: ConsumerHost, group: string, options: { start: 'earliest' | 'latest'; ephemeral: boolean }): Promise<FileLogConsumer> {
    const consumer = new FileLogConsumer(host, group, options.ephemeral);
    for (const p of await host.partitions()) await consumer.addPartition(p, options.start);
    consumer.lastListed = Date.now();
    consumer.seenVersion = host.partitionsVersion;
    return consumer;
  }

  poll(options: { maxRecords?: number; maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<LogRecord[]> {
    return this.serial(() => this.pollNow(options));
  }

  commit(positions?: Map<number, number>): Promise<void> {
    return this.serial(async () => {
      if (this.closed) throw new WeirError('WEIR_LOG_CLOSED');
      if (this.ephemeral) return;
      const target = positions ?? new Map([...this.readers].map(([p, r]) => [p, r.position]));
      for (const [p, offset] of target) {
        assertPartition(p);
        if (this.committed.get(p) === offset) continue;
        const layout = this.host.layout(p);
        await writeCommitted(this.host.fileLayer, layout.consumers, this.group, offset);
        this.committed.set(p, offset);
      }
    });
  }

  async lag(): Promise<Map<number, number>> {
    await this.refreshPartitions();
    const out = new Map<number, number>();
    for (const [p, reader] of this.readers) out.set(p, Math.max(0, (await this.host.durableNext(p)) - reader.position));
    return out;
  }

  seek(partition: number, offset: number): void {
    assertPartition(partition);
    const reader = this.readers.get(partition);
    if (reader) reader.seek(offset);
    else this.readers.set(partition, this.newReader(partition, offset));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.busy.catch(() => undefined);
    for (const reader of this.readers.values()) await reader.close();
    this.host.consumerClosed(this);
  }

  private async pollNow(options: { maxRecords?: number; maxWaitMs?: number; signal?: AbortSignal }): Promise<LogRecord[]> {
    if (this.closed) throw new WeirError('WEIR_LOG_CLOSED');
    const max = Math.max(1, options.maxRecords ?? 1000);
    const deadline = Date.now() + (options.maxWaitMs ?? 0);
    const signal = options.signal;
    for (;;) {
      await this.refreshPartitions();
      const out: LogRecord[] = [];
      const partitions = [...this.readers.values()];
      // Start at a different partition each poll so a busy one cannot starve the others.
      const start = partitions.length > 0 ? this.rotation++ % partitions.length : 0;
      for (let i = 0; i < partitions.length && out.length < max; i++) {
        await partitions[(start + i) % partitions.length]!.read(max, out, this.chunk);
      }
      if (out.length > 0 || this.closed || signal?.aborted) return out;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return out;
      await this.host.waitForData(Math.min(remaining, POLL_INTERVAL_MS), signal);
    }
  }

  private async refreshPartitions(): Promise<void> {
    if (this.seenVersion === this.host.partitionsVersion && Date.now() - this.lastListed < RELIST_MS) return;
    this.seenVersion = this.host.partitionsVersion;
    this.lastListed = Date.now();
    // Partitions that appear after the consumer started hold only newer data: read them whole.
    for (const p of await this.host.partitions()) if (!this.readers.has(p)) await this.addPartition(p, 'earliest');
  }

  private async addPartition(partition: number, start: 'earliest' | 'latest'): Promise<void> {
    let position: number | undefined;
    const layout = this.host.layout(partition);
    if (!this.ephemeral) {
      position = await readCommitted(this.host.fileLayer, layout.consumer(this.group));
      if (position !== undefined) this.committed.set(partition, position);
    }
    if (position === undefined) {
      position = start === 'latest' ? await this.host.durableNext(partition) : await this.host.firstRetained(partition);
      if (!this.ephemeral) {
        await writeCommitted(this.host.fileLayer, layout.consumers, this.group, position);
        this.committed.set(partition, position);
      }
    }
    this.readers.set(partition, this.newReader(partition, position));
  }

  private newReader(partition: number, position: number): PartitionReader {
    const host = this.host;
    return new PartitionReader({ fileLayer: host.fileLayer, layout: host.layout(partition), reporter: host.reporter, head: () => host.head(partition) }, position);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }
}
