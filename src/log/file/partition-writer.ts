import { WeirError, type ErrorCode } from '../../errors/catalogue.js';
import type { AppendResult, LogWriter } from '../event-log.js';
import type { FileHandleLike, FileLayer } from '../file-layer.js';
import type { CorruptionReporter, LogLogger } from './corruption.js';
import { encodeFrames } from './frame.js';
import { encodeHead, HEAD_BYTES, type DurableHead } from './head.js';
import { errDetail, isErrno, listSegments, type PartitionLayout } from './layout.js';
import { acquirePartitionLock, type PartitionLock } from './lock.js';
import { recoverSegment } from './recovery.js';

export interface PartitionWriterOptions {
  fileLayer: FileLayer;
  /** The log directory (parent of the partition directories). */
  root: string;
  layout: PartitionLayout;
  segmentBytes: number;
  logger: LogLogger;
  reporter: CorruptionReporter;
  /** Called after every new durable head, to wake in-process consumers. */
  onDurable(partition: number): void;
  /** Called once the writer is closed. */
  onClosed(writer: FilePartitionWriter): void;
  /** Committed next offsets, for this partition, of every registered consumer group. */
  registeredOffsets(partition: number): Promise<number[]>;
  /**
   * The durable head of this partition's previous writer when that writer failed in this
   * process: nothing after it is trusted (see {@link FilePartitionWriter.open}).
   */
  trustedHead?: DurableHead;
}

/** An append waiting for its flush round. */
interface PendingAppend {
  frames: Buffer;
  first: number;
  last: number;
  resolve(result: AppendResult): void;
  reject(err: unknown): void;
}

/**
 * The single writer of one partition, with group commit: appends get their offsets and frames
 * synchronously and queue up; one flush loop writes everything queued with one writev, makes it
 * durable with one fdatasync, publishes the new durable head and resolves all of those appends.
 * While a round is in flight the next appends collect for the following round, so under load
 * many requests share each fdatasync.
 */
export class FilePartitionWriter implements LogWriter {
  readonly partition: number;
  private currentState: 'open' | 'failed' | 'closed' = 'open';
  private closing = false;
  /** Durable head, published after each fdatasync. */
  private durable: DurableHead;
  /** Offset the next append gets; ahead of the durable head by what is queued or in flight. */
  private nextOffset: number;
  private segmentBase: number;
  /** Durable size of the current segment. */
  private segmentSize: number;
  private queue: PendingAppend[] = [];
  private flushing = false;
  private idleWaiters: Array<() => void> = [];
  private readonly headBuf = Buffer.allocUnsafe(HEAD_BYTES);
  private headWriteFailed = false;
  private failure: WeirError | undefined;

  private constructor(
    private readonly options: PartitionWriterOptions,
    private readonly lock: PartitionLock,
    private segment: FileHandleLike,
    private readonly headFile: FileHandleLike,
    base: number,
    size: number,
    nextOffset: number,
  ) {
    this.partition = options.layout.partition;
    this.segmentBase = base;
    this.segmentSize = size;
    this.nextOffset = nextOffset;
    this.durable = { segmentBase: base, segmentLength: size, nextOffset };
  }

  /**
   * Locks the partition, recovers its last segment and opens it for appending.
   *
   * @example
   * ```ts
   * const writer = await FilePartitionWriter.open({ fileLayer, root, layout, segmentBytes, ... });
   * ```
   */
  static async open(options: PartitionWriterOptions): Promise<FilePartitionWriter> {
    const { fileLayer, layout, root } = options;
    try {
      await fileLayer.mkdir(layout.consumers);
      await fileLayer.mkdir(layout.quarantine);
      // The partition directory entry itself must survive a crash.
      await fileLayer.syncDir(root);
    } catch (err) {
      throw new WeirError('WEIR_LOG_WRITE_FAILED', { detail: `cannot create ${layout.dir}: ${errDetail(err)}` }, { cause: err });
    }
    const lock = await acquirePartitionLock(fileLayer, layout.lock, layout.partition);
    let segment: FileHandleLike | undefined;
    let headFile: FileHandleLike | undefined;
    try {
      if (options.trustedHead) await distrustTail(fileLayer, layout, options.trustedHead);
      const bases = await listSegments(fileLayer, layout.dir);
      let base = bases[bases.length - 1];
      let size = 0;
      let nextOffset = 0;
      if (base === undefined) {
        base = 0;
        segment = await fileLayer.open(layout.segment(base), 'w+');
        await fileLayer.syncDir(layout.dir);
      } else {
        segment = await fileLayer.open(layout.segment(base), 'r+');
        ({ size, nextOffset } = await recoverSegment(fileLayer, layout, base, segment, options.reporter));
      }
      nextOffset = Math.max(nextOffset, base);
      if (options.trustedHead && size > 0) {
        // After a failed writer, appends go to a fresh file (fresh blocks) rather than after the
        // tail whose write-back failed.
        await segment.close();
        segment = undefined;
        base = nextOffset;
        size = 0;
        segment = await fileLayer.open(layout.segment(base), 'w+');
        await fileLayer.syncDir(layout.dir);
      }
      const head: DurableHead = { segmentBase: base, segmentLength: size, nextOffset };
      headFile = await openHeadFile(fileLayer, layout, head);
      return new FilePartitionWriter(options, lock, segment, headFile, base, size, nextOffset);
    } catch (err) {
      await segment?.close().catch(() => undefined);
      await headFile?.close().catch(() => undefined);
      await lock.release().catch(() => undefined);
      if (err instanceof WeirError) throw err;
      throw new WeirError('WEIR_LOG_WRITE_FAILED', { detail: `cannot open partition ${layout.partition}: ${errDetail(err)}` }, { cause: err });
    }
  }

  get state(): 'open' | 'failed' | 'closed' {
    return this.currentState;
  }

  /** The durable head, for in-process readers (no I/O). */
  get head(): DurableHead {
    return this.durable;
  }

  append(records: Buffer[]): Promise<AppendResult> {
    if (this.closing || this.currentState === 'closed') return Promise.reject(new WeirError('WEIR_LOG_CLOSED'));
    if (this.currentState === 'failed') return Promise.reject(this.failedError());
    const first = this.nextOffset;
    if (records.length === 0) return Promise.resolve({ partition: this.partition, firstOffset: first, lastOffset: first - 1 });
    const frames = encodeFrames(records, first);
    this.nextOffset = first + records.length;
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ frames, first, last: first + records.length - 1, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        void this.flushLoop();
      }
    });
  }

  async enforceRetention(retentionMs: number): Promise<number> {
    if (this.closing || this.currentState === 'closed') throw new WeirError('WEIR_LOG_CLOSED');
    const { fileLayer, layout } = this.options;
    const bases = await listSegments(fileLayer, layout.dir);
    const committed = await this.options.registeredOffsets(this.partition);
    const passed = committed.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...committed);
    const now = Date.now();
    let deleted = 0;
    // Oldest first, stopping at the first segment that must stay: retention keeps a contiguous suffix.
    for (let i = 0; i + 1 < bases.length; i++) {
      const base = bases[i]!;
      const nextBase = bases[i + 1]!;
      if (base >= this.segmentBase || passed < nextBase) break;
      const st = await fileLayer.stat(layout.segment(base));
      if (st && now - st.mtimeMs < retentionMs) break;
      if (st) {
        await fileLayer.unlink(layout.segment(base));
        deleted++;
      }
    }
    if (deleted > 0) await fileLayer.syncDir(layout.dir);
    return deleted;
  }

  close(): Promise<void> {
    this.closing = true;
    this.closed ??= this.closeOnce();
    return this.closed;
  }

  private closed: Promise<void> | undefined;

  private async closeOnce(): Promise<void> {
    if (this.flushing) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.currentState = 'closed';
    const errors: unknown[] = [];
    for (const close of [() => this.segment.close(), () => this.headFile.close(), () => this.lock.release()]) {
      try {
        await close();
      } catch (err) {
        errors.push(err);
      }
    }
    this.options.onClosed(this);
    if (errors.length > 0) this.options.logger.warn({ partition: this.partition, err: errors[0] }, 'error while closing the log writer');
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.flushRound();
    } catch (err) {
      // flushRound handles its own errors; this is a bug guard so appends never hang.
      this.fail('WEIR_LOG_WRITE_FAILED', err, this.queue.splice(0));
    } finally {
      // No await between the last queue check and this line, so an append cannot slip between.
      this.flushing = false;
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async flushRound(): Promise<void> {
    if (this.currentState !== 'open') {
      this.rejectAll(this.queue.splice(0), this.failedError());
      return;
    }
    const { segmentBytes } = this.options;
    if (this.segmentSize > 0 && this.segmentSize + this.queue[0]!.frames.length > segmentBytes) {
      if (!(await this.roll(this.queue[0]!.first))) return;
    }
    // Take what fits in the segment; an append larger than a whole segment goes alone.
    let n = 0;
    let total = 0;
    while (n < this.queue.length) {
      const len = this.queue[n]!.frames.length;
      if (n > 0 && this.segmentSize + total + len > segmentBytes) break;
      total += len;
      n++;
    }
    const round = this.queue.splice(0, n);
    const buffers = round.map((p) => p.frames);
    try {
      await this.segment.writev(buffers, this.segmentSize);
    } catch (err) {
      await this.writeFailed(err, round, true);
      return;
    }
    try {
      await this.segment.datasync();
    } catch (err) {
      this.fsyncFailed(err, round);
      return;
    }
    this.segmentSize += total;
    this.durable = { segmentBase: this.segmentBase, segmentLength: this.segmentSize, nextOffset: round[round.length - 1]!.last + 1 };
    // Acknowledge first: the records are durable now, and the head file only tells readers in
    // other processes how far they may read, which need not delay anyone's 200.
    for (const p of round) p.resolve({ partition: this.partition, firstOffset: p.first, lastOffset: p.last });
    this.options.onDurable(this.partition);
    await this.publishHead();
  }

  /** Starts a new segment at `base`; false (with the queue rejected) when that fails. */
  private async roll(base: number): Promise<boolean> {
    const { fileLayer, layout } = this.options;
    let next: FileHandleLike;
    try {
      next = await fileLayer.open(layout.segment(base), 'w+');
    } catch (err) {
      await this.writeFailed(err, [], false);
      return false;
    }
    try {
      // The new file's directory entry must be durable before any record in it is acknowledged.
      await fileLayer.syncDir(layout.dir);
    } catch (err) {
      await next.close().catch(() => undefined);
      this.fsyncFailed(err, []);
      return false;
    }
    const previous = this.segment;
    this.segment = next;
    this.segmentBase = base;
    this.segmentSize = 0;
    try {
      await previous.close();
    } catch (err) {
      this.options.logger.warn({ partition: this.partition, err }, 'error closing a full segment');
    }
    return true;
  }

  /**
   * A failed write (ENOSPC, EIO on write) leaves the file as it was before this round once the
   * partial bytes are truncated; the writer stays usable. Appends queued behind the round already
   * have offsets after it, so they are rejected too and offsets restart from the durable head.
   */
  private async writeFailed(err: unknown, round: PendingAppend[], truncate: boolean): Promise<void> {
    const affected = round.concat(this.queue.splice(0));
    this.nextOffset = this.durable.nextOffset;
    const error = isDiskFull(err)
      ? new WeirError('WEIR_LOG_DISK_FULL', { detail: errDetail(err), retryAfter: DISK_FULL_RETRY_AFTER_S }, { cause: err })
      : new WeirError('WEIR_LOG_WRITE_FAILED', { detail: errDetail(err) }, { cause: err });
    this.options.logger.error({ partition: this.partition, err, code: error.code }, 'event log write failed');
    if (truncate) {
      try {
        await this.segment.truncate(this.segmentSize);
      } catch (truncErr) {
        // Unknown bytes may now sit after the durable end; only a reopen (recovery) can fix that.
        this.fail('WEIR_LOG_WRITE_FAILED', truncErr, []);
      }
    }
    this.rejectAll(affected, error);
  }

  /**
   * After a failed fdatasync the kernel may have dropped the dirty pages and cleared the error,
   * so a retry could "succeed" without the data on disk (PostgreSQL's fsyncgate). Nothing written
   * since the last good sync can be trusted: the writer fails for good and must be reopened,
   * which runs recovery on what really is in the file.
   */
  private fsyncFailed(err: unknown, round: PendingAppend[]): void {
    this.fail('WEIR_LOG_FSYNC_FAILED', err, round.concat(this.queue.splice(0)));
  }

  private fail(code: ErrorCode, err: unknown, affected: PendingAppend[]): void {
    this.currentState = 'failed';
    this.failure = new WeirError(code, { detail: errDetail(err) }, { cause: err });
    this.options.logger.error({ partition: this.partition, err, code }, 'event log writer failed; reopen it to recover');
    this.rejectAll(affected, this.failure);
  }

  private failedError(): WeirError {
    return this.failure ?? new WeirError('WEIR_LOG_FSYNC_FAILED', { detail: 'writer failed earlier; reopen it' });
  }

  private rejectAll(appends: PendingAppend[], err: unknown): void {
    for (const p of appends) p.reject(err);
  }

  /**
   * Records the durable head in the `head` file for readers in other processes. Not fsync'd: after
   * a crash the next writer recomputes it, and a stale head only makes readers wait.
   */
  private async publishHead(): Promise<void> {
    try {
      await this.headFile.writev([encodeHead(this.durable, this.headBuf)], 0);
      this.headWriteFailed = false;
    } catch (err) {
      if (!this.headWriteFailed) {
        this.options.logger.error({ partition: this.partition, err }, 'cannot update the head file; readers in other processes will lag');
      }
      this.headWriteFailed = true;
    }
  }
}

/** Seconds a client is asked to wait when the disk is full: space rarely comes back within one. */
const DISK_FULL_RETRY_AFTER_S = 5;

function isDiskFull(err: unknown): boolean {
  return isErrno(err, 'ENOSPC') || isErrno(err, 'EDQUOT');
}

/**
 * Cuts the partition back to `trusted`, the durable head of a writer of this process that failed.
 *
 * Why not simply run recovery on what the file holds: after a failed fdatasync Linux may mark the
 * unwritten pages clean and report the error only once (PostgreSQL's "fsyncgate"), so the bytes
 * of the failed round can still be read back from the page cache, pass their CRC, and a later
 * fdatasync "succeeds" without them being on disk. Recovery would keep them and publish them to
 * consumers, which could commit past records that a power loss then takes away, while their
 * offsets are handed out again to new records. The writer knows exactly what its successful syncs
 * covered, so everything after that is dropped: segments created after the trusted one (they hold
 * no acknowledged record) and the trusted segment's bytes after its synced length. None of it was
 * acknowledged, so clients still have it and retry. The caller then starts a new segment.
 *
 * Residual risk, accepted: if the process dies between the failure and this cut, the next process
 * only has the file to go by and keeps what passes its CRC.
 */
async function distrustTail(fileLayer: FileLayer, layout: PartitionLayout, trusted: DurableHead): Promise<void> {
  let removed = false;
  for (const base of await listSegments(fileLayer, layout.dir)) {
    if (base <= trusted.segmentBase) continue;
    await fileLayer.unlink(layout.segment(base));
    removed = true;
  }
  if (removed) await fileLayer.syncDir(layout.dir);
  const fh = await fileLayer.open(layout.segment(trusted.segmentBase), 'r+');
  try {
    if ((await fh.size()) > trusted.segmentLength) {
      await fh.truncate(trusted.segmentLength);
      await fh.datasync();
    }
  } finally {
    await fh.close();
  }
}

/**
 * Opens the head file for in-place updates, creating it atomically first when missing (so a
 * reader never sees an empty one) and writing the recovered head.
 */
async function openHeadFile(fileLayer: FileLayer, layout: PartitionLayout, head: DurableHead): Promise<FileHandleLike> {
  const bytes = encodeHead(head);
  try {
    const fh = await fileLayer.open(layout.head, 'r+');
    try {
      await fh.writev([bytes], 0);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    return fh;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const tmp = `${layout.head}.${process.pid}.tmp`;
  const fh = await fileLayer.open(tmp, 'w+');
  try {
    await fh.writev([bytes], 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await fileLayer.rename(tmp, layout.head);
  await fileLayer.syncDir(layout.dir);
  return fileLayer.open(layout.head, 'r+');
}
