/**
 * The NATS JetStream adapter of the EventLog port, for running several collector and worker
 * processes over one replicated log.
 *
 * How the port maps onto JetStream, and why:
 * - **Partition → one stream** `<stream>_P<n>` with the subject `<subjectPrefix>.p<n>` (file
 *   storage, `log.nats.replicas` replicas). A stream sequence has no gaps, so a partition's
 *   offsets stay what the port promises (0, 1, 2, … per partition); subjects of one shared stream
 *   would give each partition a share of one global sequence instead.
 * - **Offset → stream sequence − 1.** `append` resolves with the sequences of JetStream's
 *   acknowledgements, after every record was acknowledged. Records carry `Nats-Msg-Id` when the
 *   caller passes ids, so JetStream drops a resend within its duplicate window.
 * - **Durable → acknowledged by the stream.** With replicas ≥ 3 that is a quorum of servers
 *   holding the record. A single server (replicas 1) acknowledges once the record is in its file
 *   store but flushes that to disk on its own schedule (`sync_interval`, 2 min by default; set
 *   `always` on servers from 2.10 to match the file log's fdatasync before every ack).
 * - **One writer per partition → a lease** in the `<stream>_WRITERS` stream (see
 *   `writer-lease.ts`), so an append's records are never interleaved with another process's.
 * - **Committed offsets → explicit records** in `<stream>_OFFSETS`, one per (group, partition),
 *   written when the consumer commits. A durable consumer's ack floor was the other candidate;
 *   it cannot do what the sinks rely on: it only moves forward (a warehouse replay commits an
 *   earlier position), it only covers delivered messages (the lake writer commits positions of
 *   the files it stored, behind its read position, and a usage meter commits positions it kept
 *   elsewhere), its delivery cursor cannot be moved apart from it (`seek`), and after a restart
 *   it redelivers what was read but not acknowledged only once `ack_wait` passed, not at once.
 *   An offset record makes "read from the committed offset, commit after the batch is stored,
 *   replay from an earlier position" exact, and commit resolves once the record is stored.
 * - **Reading → per partition an ordered pull consumer** (server-side, ephemeral, no acks)
 *   created at the reader's position and recreated on `seek`; it verifies delivery sequences
 *   and restarts itself after a gap, so no record is skipped, and a bounded read-ahead buffer
 *   keeps a slow sink's memory flat.
 * - **Retention → purge up to a sequence**: below every registered group's committed offset and
 *   older than the retention (the stream's own age limit is off: it cannot wait for the groups).
 *
 * @example
 * ```ts
 * const log = await openNatsEventLog({ servers: ['127.0.0.1:4222'], stream: 'WEIR_EVENTS', subjectPrefix: 'weir.events' });
 * const writer = await log.openWriter(0);
 * await writer.append([Buffer.from('{"type":"track"}')], { ids: ['src_1/m-1'] }); // after JetStream's ack
 * const consumer = await log.consumer('warehouse');
 * const records = await consumer.poll({ maxRecords: 500, maxWaitMs: 1000 });
 * await consumer.commit();
 * await log.close();
 * ```
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WeirError } from '../../errors/catalogue.js';
import { DataSignal } from '../data-signal.js';
import type { ConsumerOptions, EventLog, LogConsumer, LogWriter, PartitionStats } from '../event-log.js';
import { LogLifecycle } from '../log-lifecycle.js';
import { NatsLogConsumer, type ConsumerHost } from './consumer.js';
import { ensureStream, nanos, openJetStream, type JetStream } from './jetstream.js';
import { NatsNames } from './names.js';
import { OffsetStore } from './offsets.js';
import { NatsPartitionWriter, type PartitionWriterHost } from './partition-writer.js';
import { ensureLeaseStream, WriterLease } from './writer-lease.js';

export interface NatsEventLogOptions {
  /** NATS servers, e.g. `['nats://10.0.0.5:4222']`. Ignored when `connection` is given. */
  servers?: string[];
  /** An open connection to use instead; the log does not close it. */
  connection?: NatsConnection;
  /** Stream name prefix: partitions are `<stream>_P<n>`. */
  stream: string;
  /** Subject prefix: partition n is `<subjectPrefix>.p<n>`. */
  subjectPrefix: string;
  /** Replicas of every stream the log creates (1, 3 or 5 on a cluster). Default 1. */
  replicas?: number;
  /** How long JetStream remembers a record id for deduplication. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** How long an append waits for JetStream's acknowledgement. Default 5 s. */
  publishTimeoutMs?: number;
  /** How long a crashed writer keeps its partition locked. Default 15 s. */
  writerLeaseMs?: number;
  /** Where read failures are reported (pino-compatible). Default: JSON to stderr. */
  logger?: { warn(obj: object, msg: string): void };
}

const DEFAULTS = { replicas: 1, duplicateWindowMs: 120_000, publishTimeoutMs: 5_000, writerLeaseMs: 15_000 };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Connects to NATS and opens the log, creating its offset and lease streams if missing.
 * Rejects with `WEIR_LOG_UNAVAILABLE` when no server answers or JetStream is not enabled.
 */
export async function openNatsEventLog(options: NatsEventLogOptions): Promise<EventLog> {
  const names = new NatsNames(options.stream, options.subjectPrefix);
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  if (!Number.isInteger(settings.replicas) || settings.replicas < 1 || settings.replicas > 5) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `log.nats.replicas must be 1 to 5, got ${settings.replicas}` });
  }
  const servers = options.servers ?? [];
  let nc = options.connection;
  const owned = nc === undefined;
  try {
    nc ??= await connect({ servers, name: `weir-log-${names.stream}`, maxReconnectAttempts: -1 });
  } catch (err) {
    throw new WeirError('WEIR_LOG_UNAVAILABLE', { servers: servers.join(','), detail: message(err) }, { cause: err });
  }
  try {
    const jet = await openJetStream(nc);
    const offsets = new OffsetStore(jet, names, settings.publishTimeoutMs);
    await offsets.ensure(settings.replicas);
    await ensureLeaseStream(jet, names, settings.replicas, settings.writerLeaseMs);
    return new NatsEventLog(jet, names, offsets, settings, owned, options.logger ?? stderrLogger);
  } catch (err) {
    if (owned) await nc.close().catch(() => undefined);
    if (err instanceof WeirError) throw err;
    throw new WeirError('WEIR_LOG_UNAVAILABLE', { servers: servers.join(',') || 'the given connection', detail: message(err) }, { cause: err });
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const stderrLogger = {
  warn: (obj: object, msg: string) => {
    const err = (obj as { err?: unknown }).err;
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...obj, err: err === undefined ? undefined : message(err) })}\n`);
  },
};

class NatsEventLog implements EventLog, ConsumerHost, PartitionWriterHost {
  private readonly lifecycle = new LogLifecycle<NatsPartitionWriter, NatsLogConsumer>();
  private readonly known = new Set<number>();
  private readonly dataSignal = new DataSignal();
  partitionsVersion = 0;
  readonly publishTimeoutMs: number;

  constructor(
    readonly jet: JetStream,
    readonly names: NatsNames,
    readonly offsets: OffsetStore,
    private readonly settings: typeof DEFAULTS,
    private readonly ownsConnection: boolean,
    private readonly logger: { warn(obj: object, msg: string): void },
  ) {
    this.publishTimeoutMs = settings.publishTimeoutMs;
  }

  async partitions(): Promise<number[]> {
    const out: number[] = [];
    for await (const name of this.jet.jsm.streams.names(`${this.names.subjectPrefix}.*`)) {
      const p = this.names.partitionOf(name);
      if (p !== undefined) out.push(p);
    }
    return out.sort((a, b) => a - b);
  }

  openWriter(partition: number): Promise<LogWriter> {
    return this.lifecycle.openWriter(
      partition,
      async () => {
        await this.ensurePartition(partition);
        const writer = new NatsPartitionWriter(this, partition);
        const lease = await WriterLease.acquire(this.jet, this.names, partition, {
          leaseMs: this.settings.writerLeaseMs,
          publishTimeoutMs: this.settings.publishTimeoutMs,
          onLost: (err) => writer.leaseLost(err),
        });
        writer.attachLease(lease);
        return writer;
      },
      () => {
        this.partitionsVersion++;
        this.notify();
      },
    );
  }

  consumer(group: string, options: ConsumerOptions = {}): Promise<LogConsumer> {
    return this.lifecycle.addConsumer(group, () =>
      NatsLogConsumer.create(this, group, { start: options.start ?? 'earliest', ephemeral: options.ephemeral ?? false }),
    );
  }

  async stats(): Promise<PartitionStats[]> {
    const out: PartitionStats[] = [];
    for (const partition of await this.partitions()) {
      const { state } = await this.jet.jsm.streams.info(this.names.partitionStream(partition));
      out.push({
        partition,
        firstOffset: firstOffsetOf(state),
        nextOffset: state.last_seq,
        segments: 0,
        bytes: state.bytes,
        // JetStream checksums its own blocks and repairs from replicas; nothing surfaces here.
        corruptRecords: 0,
      });
    }
    return out;
  }

  groups(): Promise<Map<string, Map<number, number>>> {
    return this.offsets.all();
  }

  close(): Promise<void> {
    return this.lifecycle.close(
      () => this.notify(),
      async () => {
        if (this.ownsConnection) await this.jet.nc.drain();
      },
    );
  }

  // ConsumerHost and PartitionWriterHost

  async durableNext(partition: number): Promise<number> {
    return (await this.jet.jsm.streams.info(this.names.partitionStream(partition))).state.last_seq;
  }

  async firstRetained(partition: number): Promise<number> {
    return firstOffsetOf((await this.jet.jsm.streams.info(this.names.partitionStream(partition))).state);
  }

  async registeredOffsets(partition: number): Promise<number[]> {
    return [...(await this.groups()).values()].map((perPartition) => perPartition.get(partition) ?? 0);
  }

  waitForData(ms: number, signal?: AbortSignal): Promise<void> {
    return this.lifecycle.closed ? Promise.resolve() : this.dataSignal.wait(ms, signal);
  }

  notify(): void {
    this.dataSignal.notify();
  }

  warn(obj: object, msg: string): void {
    this.logger.warn(obj, msg);
  }

  consumerClosed(consumer: NatsLogConsumer): void {
    this.lifecycle.consumerClosed(consumer);
  }

  writerClosed(writer: NatsPartitionWriter): void {
    this.lifecycle.writerClosed(writer);
  }

  private async ensurePartition(partition: number): Promise<void> {
    if (this.known.has(partition)) return;
    await ensureStream(
      this.jet,
      {
        name: this.names.partitionStream(partition),
        subjects: [this.names.partitionSubject(partition)],
        duplicate_window: nanos(this.settings.duplicateWindowMs),
      },
      { replicas: this.settings.replicas },
    );
    this.known.add(partition);
  }

}

/** A stream never written has first_seq 0; a purged one has first_seq = last_seq + 1. */
function firstOffsetOf(state: { first_seq: number; last_seq: number }): number {
  return Math.max(0, state.first_seq - 1);
}
