import { WeirError } from '../../errors/catalogue.js';
import { DataSignal } from '../data-signal.js';
import { LogLifecycle } from '../log-lifecycle.js';
import type { ConsumerOptions, EventLog, LogConsumer, LogWriter, PartitionStats } from '../event-log.js';
import { nodeFileLayer, type FileLayer } from '../file-layer.js';
import { FileLogConsumer, type ConsumerHost } from './consumer.js';
import { CorruptionReporter, type CorruptionInfo, type LogLogger } from './corruption.js';
import { HeadFileReader, type DurableHead, type HeadState } from './head.js';
import { errDetail, listPartitions, listSegments, PartitionLayout } from './layout.js';
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
  private readonly lifecycle = new LogLifecycle<FilePartitionWriter, FileLogConsumer>();
  private readonly headReaders = new Map<number, HeadFileReader>();
  private readonly layouts = new Map<number, PartitionLayout>();
  /** Partitions whose writer failed and has not been reopened yet: the last head its syncs covered. */
  private readonly trustedHeads = new Map<number, DurableHead>();
  private readonly dataSignal = new DataSignal();
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

  openWriter(partition: number): Promise<LogWriter> {
    // A writer of this process that failed knows what its syncs covered; nothing after that is
    // trusted, until a reopen has cut the partition back to it (a reopen may fail and be retried).
    const existing = this.lifecycle.writer(partition);
    if (existing?.state === 'failed') this.trustedHeads.set(partition, existing.head);
    const trustedHead = this.trustedHeads.get(partition);
    return this.lifecycle.openWriter(
      partition,
      () =>
        FilePartitionWriter.open({
          fileLayer: this.fileLayer,
          root: this.dir,
          layout: this.layout(partition),
          segmentBytes: this.segmentBytes,
          logger: this.logger,
          reporter: this.reporter,
          onDurable: () => this.notify(),
          onClosed: (w) => this.lifecycle.writerClosed(w),
          registeredOffsets: (p) => this.registeredOffsets(p),
          trustedHead,
        }),
      () => {
        this.trustedHeads.delete(partition);
        this.partitionsVersion++;
        this.notify();
      },
    );
  }

  consumer(group: string, options: ConsumerOptions = {}): Promise<LogConsumer> {
    return this.lifecycle.addConsumer(group, () =>
      FileLogConsumer.create(this, group, { start: options.start ?? 'earliest', ephemeral: options.ephemeral ?? false }),
    );
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

  close(): Promise<void> {
    return this.lifecycle.close(
      () => this.notify(),
      async () => {
        const readers = [...this.headReaders.values()];
        this.headReaders.clear();
        const results = await Promise.allSettled(readers.map((r) => r.close()));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      },
    );
  }

  // ConsumerHost

  layout(partition: number): PartitionLayout {
    let layout = this.layouts.get(partition);
    if (!layout) this.layouts.set(partition, (layout = new PartitionLayout(this.dir, partition)));
    return layout;
  }

  async head(partition: number): Promise<HeadState> {
    const writer = this.lifecycle.writer(partition);
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
    return this.lifecycle.closed ? Promise.resolve() : this.dataSignal.wait(ms, signal);
  }

  consumerClosed(consumer: FileLogConsumer): void {
    this.lifecycle.consumerClosed(consumer);
  }

  /** Committed offsets in `partition` of every registered group; a group with none there has read nothing. */
  private async registeredOffsets(partition: number): Promise<number[]> {
    const groups = await this.groups();
    return [...groups.values()].map((perPartition) => perPartition.get(partition) ?? 0);
  }

  private notify(): void {
    this.dataSignal.notify();
  }

}
