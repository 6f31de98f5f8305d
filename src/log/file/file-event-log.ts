import { WeirError } from '../../errors/catalogue.js';
import type { ConsumerOptions, EventLog, LogConsumer, LogWriter, PartitionStats } from '../event-log.js';
import { nodeFileLayer, type FileLayer } from '../file-layer.js';
import { FileLogConsumer, type ConsumerHost } from './consumer.js';
import { CorruptionReporter, type CorruptionInfo, type LogLogger } from './corruption.js';
import { HeadFileReader, type HeadState } from './head.js';
import { assertGroup, assertPartition, errDetail, listPartitions, listSegments, PartitionLayout } from './layout.js';
import { listGroupFiles, readCommitted } from './offsets.js';
import { FilePartitionWriter } from './partition-writer.js';
import { scanNextOffset } from './recovery.js';

export interface FileEventLogOptions {
  /** Log directory; partitions are its numbered subdirectories. Created if missing. */
  dir: string;
  /** File system access; tests pass a layer that injects faults. Default: the real one. */
  fileLayer?: FileLayer;
  /** A segment is rolled when the next append would take it past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Where corruption and write failures are logged (pino-compatible). Default: JSON to stderr. */
  logger?: LogLogger;
  /** Called once per corrupt region found, by recovery or by a reader. */
  onCorrupt?: (info: CorruptionInfo) => void;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

const stderrLogger: LogLogger = {
  warn: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg, ...serialisable(obj) })}\n`),
  error: (obj, msg) => process.stderr.write(`${JSON.stringify({ level: 'error', msg, ...serialisable(obj) })}\n`),
};

function serialisable(obj: object): object {
  const out: Record<string, unknown> = { ...obj };
  if (out.err !== undefined) out.err = errDetail(out.err);
  return out;
}

/**
 * Opens the embedded file event log in `options.dir`.
 *
 * @example
 * ```ts
 * const log = await openFileEventLog({ dir: '.weir/log' });
 * const writer = await log.openWriter(0);
 * const { firstOffset } = await writer.append([Buffer.from('{"type":"track"}')]);
 * const consumer = await log.consumer('warehouse');
 * const records = await consumer.poll({ maxRecords: 100, maxWaitMs: 500 });
 * await consumer.commit();
 * await log.close();
 * ```
 */
export async function openFileEventLog(options: FileEventLogOptions): Promise<EventLog> {
  const fileLayer = options.fileLayer ?? nodeFileLayer;
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 64) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `log segmentBytes must be an integer of at least 64, got ${segmentBytes}` });
  }
  try {
    await fileLayer.mkdir(options.dir);
  } catch (err) {
    throw new WeirError('WEIR_LOG_WRITE_FAILED', { detail: `cannot create ${options.dir}: ${errDetail(err)}` }, { cause: err });
  }
  const logger = options.logger ?? stderrLogger;
  return new FileEventLog(options.dir, fileLayer, segmentBytes, logger, new CorruptionReporter(logger, options.onCorrupt));
}

class FileEventLog implements EventLog, ConsumerHost {
  private readonly writers = new Map<number, FilePartitionWriter>();
  private readonly opening = new Map<number, Promise<FilePartitionWriter>>();
  private readonly consumers = new Set<FileLogConsumer>();
  private readonly headReaders = new Map<number, HeadFileReader>();
  private readonly layouts = new Map<number, PartitionLayout>();
  private waiters = new Set<() => void>();
  private closed = false;
  partitionsVersion = 0;

  constructor(
    private readonly dir: string,
    readonly fileLayer: FileLayer,
    private readonly segmentBytes: number,
    private readonly logger: LogLogger,
    readonly reporter: CorruptionReporter,
  ) {}

  partitions(): Promise<number[]> {
    return listPartitions(this.fileLayer, this.dir);
  }

  async openWriter(partition: number): Promise<LogWriter> {
    this.assertOpen();
    assertPartition(partition);
    const existing = this.writers.get(partition);
    // A failed writer must be reopened (recovery runs again); a healthy one is the partition's only writer.
    if (existing?.state === 'open' || this.opening.has(partition)) throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: process.pid });
    const opening = (async () => {
      if (existing) await existing.close();
      return FilePartitionWriter.open({
        fileLayer: this.fileLayer,
        root: this.dir,
        layout: this.layout(partition),
        segmentBytes: this.segmentBytes,
        logger: this.logger,
        reporter: this.reporter,
        onDurable: () => this.notify(),
        onClosed: (w) => {
          if (this.writers.get(w.partition) === w) this.writers.delete(w.partition);
        },
        registeredOffsets: (p) => this.registeredOffsets(p),
      });
    })();
    this.opening.set(partition, opening);
    try {
      const writer = await opening;
      if (this.closed) {
        await writer.close();
        throw new WeirError('WEIR_LOG_CLOSED');
      }
      this.writers.set(partition, writer);
      this.partitionsVersion++;
      this.notify();
      return writer;
    } finally {
      this.opening.delete(partition);
    }
  }

  async consumer(group: string, options: ConsumerOptions = {}): Promise<LogConsumer> {
    this.assertOpen();
    assertGroup(group);
    const consumer = await FileLogConsumer.create(this, group, { start: options.start ?? 'earliest', ephemeral: options.ephemeral ?? false });
    if (this.closed) {
      await consumer.close();
      throw new WeirError('WEIR_LOG_CLOSED');
    }
    this.consumers.add(consumer);
    return consumer;
  }

  async stats(): Promise<PartitionStats[]> {
    const out: PartitionStats[] = [];
    for (const partition of await this.partitions()) {
      const layout = this.layout(partition);
      const bases = await listSegments(this.fileLayer, layout.dir);
      let bytes = 0;
      for (const base of bases) bytes += (await this.fileLayer.stat(layout.segment(base)))?.size ?? 0;
      out.push({
        partition,
        firstOffset: bases[0] ?? 0,
        nextOffset: await this.durableNext(partition),
        segments: bases.length,
        bytes,
        corruptRecords: this.reporter.count(partition),
      });
    }
    return out;
  }

  async groups(): Promise<Map<string, Map<number, number>>> {
    const out = new Map<string, Map<number, number>>();
    for (const partition of await this.partitions()) {
      const layout = this.layout(partition);
      for (const group of await listGroupFiles(this.fileLayer, layout.consumers)) {
        const offset = await readCommitted(this.fileLayer, layout.consumer(group));
        if (offset === undefined) continue;
        let perPartition = out.get(group);
        if (!perPartition) out.set(group, (perPartition = new Map()));
        perPartition.set(partition, offset);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    const errors: unknown[] = [];
    for (const consumer of [...this.consumers]) await consumer.close().catch((err: unknown) => errors.push(err));
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => undefined)));
    for (const writer of [...this.writers.values()]) await writer.close().catch((err: unknown) => errors.push(err));
    for (const reader of this.headReaders.values()) await reader.close().catch((err: unknown) => errors.push(err));
    this.headReaders.clear();
    if (errors.length > 0) throw errors[0];
  }

  // ConsumerHost

  layout(partition: number): PartitionLayout {
    let layout = this.layouts.get(partition);
    if (!layout) this.layouts.set(partition, (layout = new PartitionLayout(this.dir, partition)));
    return layout;
  }

  async head(partition: number): Promise<HeadState> {
    const writer = this.writers.get(partition);
    if (writer) return writer.head;
    let reader = this.headReaders.get(partition);
    if (!reader) this.headReaders.set(partition, (reader = new HeadFileReader(this.fileLayer, this.layout(partition).head)));
    return reader.read();
  }

  async durableNext(partition: number): Promise<number> {
    const head = await this.head(partition);
    if (head !== 'absent' && head !== 'unknown') return head.nextOffset;
    const layout = this.layout(partition);
    const bases = await listSegments(this.fileLayer, layout.dir);
    const last = bases[bases.length - 1];
    if (last === undefined) return 0;
    const fh = await this.fileLayer.open(layout.segment(last), 'r');
    try {
      return await scanNextOffset(fh, last);
    } finally {
      await fh.close();
    }
  }

  async firstRetained(partition: number): Promise<number> {
    return (await listSegments(this.fileLayer, this.layout(partition).dir))[0] ?? 0;
  }

  waitForData(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
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

  consumerClosed(consumer: FileLogConsumer): void {
    this.consumers.delete(consumer);
  }

  /** Committed offsets in `partition` of every registered group; a group with none there has read nothing. */
  private async registeredOffsets(partition: number): Promise<number[]> {
    const groups = await this.groups();
    return [...groups.values()].map((perPartition) => perPartition.get(partition) ?? 0);
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  private assertOpen(): void {
    if (this.closed) throw new WeirError('WEIR_LOG_CLOSED');
  }
}
