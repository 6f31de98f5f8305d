/**
 * A consumer group member over every partition stream. Each partition has a reader that keeps a
 * bounded buffer filled by an ordered JetStream consumer started at the reader's position;
 * `poll` hands out buffered records, `seek` restarts the reader at another sequence, and
 * `commit` writes the positions to the offset store.
 */
import { DeliverPolicy, type Consumer, type ConsumerMessages } from '@nats-io/jetstream';
import { WeirError } from '../../errors/catalogue.js';
import type { LogConsumer, LogRecord } from '../event-log.js';
import { assertPartition } from '../names.js';
import type { JetStream } from './jetstream.js';
import type { NatsNames } from './names.js';
import type { OffsetStore } from './offsets.js';

/** What a consumer needs from the log it belongs to. */
export interface ConsumerHost {
  readonly jet: JetStream;
  readonly names: NatsNames;
  readonly offsets: OffsetStore;
  partitions(): Promise<number[]>;
  /** Bumped whenever a writer of this log creates a partition. */
  readonly partitionsVersion: number;
  durableNext(partition: number): Promise<number>;
  firstRetained(partition: number): Promise<number>;
  /** Resolves after `ms`, or earlier when a reader buffered records or `signal` aborts. */
  waitForData(ms: number, signal?: AbortSignal): Promise<void>;
  notify(): void;
  warn(obj: object, msg: string): void;
  consumerClosed(consumer: NatsLogConsumer): void;
}

/** How often the stream list is read again, to pick up partitions created by other processes. */
const RELIST_MS = 1_000;
/** Records a reader buffers ahead of `poll`. */
const BUFFER_RECORDS = 1_000;
/** How long one pull request waits at the server (the client library's minimum is 1 s). */
const FETCH_EXPIRES_MS = 5_000;
/** Pause before a reader whose pull failed (stream gone, server away) tries again. */
const RETRY_MS = 500;

class PartitionReader {
  /** Offset of the next record `take` returns. */
  position: number;
  /** Offset of the next record the pump asks JetStream for. */
  private fetchNext: number;
  private buffer: LogRecord[] = [];
  private generation = 0;
  private messages: ConsumerMessages | undefined;
  private consumer: Consumer | undefined;
  private roomWaiter: (() => void) | undefined;
  private closed = false;
  /** Records the server held beyond the last one delivered to us (JetStream's `pending`). */
  private serverPending = 0;

  constructor(
    private readonly host: ConsumerHost,
    readonly partition: number,
    position: number,
  ) {
    this.position = position;
    this.fetchNext = position;
    void this.pump(this.generation);
  }

  take(max: number, out: LogRecord[]): void {
    const n = Math.min(max - out.length, this.buffer.length);
    if (n <= 0) return;
    const taken = this.buffer.splice(0, n);
    for (const r of taken) out.push(r);
    this.position = taken[taken.length - 1]!.offset + 1;
    this.wakePump();
  }

  /** True when records known to be durable are on their way but not buffered yet. */
  get arriving(): boolean {
    return this.buffer.length === 0 && this.serverPending > 0;
  }

  seek(offset: number): void {
    this.stopPump();
    this.serverPending = 0;
    this.buffer = [];
    this.position = offset;
    this.fetchNext = offset;
    void this.pump(this.generation);
  }

  close(): void {
    this.closed = true;
    this.stopPump();
    this.buffer = [];
  }

  private stopPump(): void {
    this.generation++;
    this.messages?.stop();
    this.messages = undefined;
    const consumer = this.consumer;
    this.consumer = undefined;
    // The server would drop the abandoned consumer after its inactivity threshold anyway.
    consumer?.delete().catch(() => undefined);
    this.wakePump();
  }

  private wakePump(): void {
    const wake = this.roomWaiter;
    this.roomWaiter = undefined;
    wake?.();
  }

  private async pump(generation: number): Promise<void> {
    const live = () => generation === this.generation && !this.closed;
    const stream = this.host.names.partitionStream(this.partition);
    while (live()) {
      try {
        const room = BUFFER_RECORDS - this.buffer.length;
        if (room <= 0) {
          await new Promise<void>((resolve) => (this.roomWaiter = resolve));
          continue;
        }
        if (this.consumer === undefined) {
          // An ordered consumer checks delivery sequences and recreates itself after a gap, so
          // no record between our position and the head is skipped.
          const consumer = await this.host.jet.js.consumers.get(stream, {
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: this.fetchNext + 1,
          });
          if (!live()) {
            consumer.delete().catch(() => undefined);
            return;
          }
          this.consumer = consumer;
        }
        const messages = await this.consumer.fetch({ max_messages: room, expires: FETCH_EXPIRES_MS });
        if (!live()) {
          messages.stop();
          return;
        }
        this.messages = messages;
        for await (const m of messages) {
          if (!live()) return;
          const offset = m.seq - 1;
          // Retention may have removed records below our position: JetStream starts at the first one kept.
          if (offset < this.fetchNext) continue;
          this.buffer.push({ partition: this.partition, offset, value: Buffer.from(m.data) });
          this.fetchNext = offset + 1;
          this.serverPending = m.info.pending;
          this.host.notify();
        }
      } catch (err) {
        if (!live()) return;
        this.host.warn({ err, partition: this.partition }, 'event log read failed; retrying');
        this.consumer?.delete().catch(() => undefined);
        this.consumer = undefined;
        await new Promise((r) => setTimeout(r, RETRY_MS).unref());
      }
    }
  }
}

/**
 * @example
 * ```ts
 * const consumer = await log.consumer('warehouse');
 * const batch = await consumer.poll({ maxRecords: 500, maxWaitMs: 1000 });
 * await consumer.commit();
 * ```
 */
export class NatsLogConsumer implements LogConsumer {
  private readonly readers = new Map<number, PartitionReader>();
  /** What the offset store holds for this group, as far as this consumer knows. */
  private readonly committed = new Map<number, number>();
  private lastListed = 0;
  private seenVersion = -1;
  private rotation = 0;
  private closed = false;
  private busy: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly host: ConsumerHost,
    readonly group: string,
    private readonly ephemeral: boolean,
  ) {}

  /**
   * Positions every existing partition at the group's committed offset, else at `start`; a
   * non-ephemeral group is registered there, which holds back retention from now on.
   */
  static async create(host: ConsumerHost, group: string, options: { start: 'earliest' | 'latest'; ephemeral: boolean }): Promise<NatsLogConsumer> {
    const consumer = new NatsLogConsumer(host, group, options.ephemeral);
    try {
      for (const p of await host.partitions()) await consumer.addPartition(p, options.start);
    } catch (err) {
      await consumer.close();
      throw err;
    }
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
      const writes: Promise<void>[] = [];
      for (const [p, offset] of target) {
        assertPartition(p);
        if (this.committed.get(p) === offset) continue;
        writes.push(this.host.offsets.write(this.group, p, offset).then(() => void this.committed.set(p, offset)));
      }
      await Promise.all(writes);
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
    else this.readers.set(partition, new PartitionReader(this.host, partition, offset));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.notify();
    await this.busy.catch(() => undefined);
    for (const reader of this.readers.values()) reader.close();
    this.host.consumerClosed(this);
  }

  private async pollNow(options: { maxRecords?: number; maxWaitMs?: number; signal?: AbortSignal }): Promise<LogRecord[]> {
    if (this.closed) throw new WeirError('WEIR_LOG_CLOSED');
    const max = Math.max(1, options.maxRecords ?? 1000);
    const deadline = Date.now() + (options.maxWaitMs ?? 0);
    const signal = options.signal;
    const out: LogRecord[] = [];
    for (;;) {
      await this.refreshPartitions();
      const readers = [...this.readers.values()];
      // Start at a different partition each poll so a busy one cannot starve the others.
      const start = readers.length > 0 ? this.rotation++ % readers.length : 0;
      for (let i = 0; i < readers.length && out.length < max; i++) readers[(start + i) % readers.length]!.take(max, out);
      if (out.length >= max || this.closed || signal?.aborted) return out;
      // Records reach the buffers as JetStream delivers them: a poll that found some waits for
      // the rest of what the server already holds, so a batch is as full as the file log's.
      if (out.length > 0 && !readers.some((r) => r.arriving)) return out;
      const remaining = deadline - Date.now();
      if (remaining <= 0) return out;
      await this.host.waitForData(Math.min(remaining, RELIST_MS), signal);
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
    let position = this.ephemeral ? undefined : await this.host.offsets.read(this.group, partition);
    if (position === undefined) {
      position = start === 'latest' ? await this.host.durableNext(partition) : await this.host.firstRetained(partition);
      if (!this.ephemeral) position = await this.host.offsets.register(this.group, partition, position);
    }
    if (!this.ephemeral) this.committed.set(partition, position);
    if (this.closed) return;
    this.readers.set(partition, new PartitionReader(this.host, partition, position));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.busy.then(fn, fn);
    this.busy = run.catch(() => undefined);
    return run;
  }
}
