/**
 * The EventLog port: a partitioned, durable, append-only log of opaque records, read by consumer
 * groups from their own committed offsets.
 *
 * Offsets are per partition, start at 0 and grow by one per record. A record is visible to
 * consumers only once it is durable, so a consumer can never commit past data that a crash could
 * take back.
 *
 * Adapters: `file/` (the embedded default: segmented CRC-framed files, group-commit fdatasync) and
 * `nats/` (NATS JetStream: a stream per partition, replicated, acknowledged by the stream's
 * quorum). Every adapter passes `test/contract/event-log.contract.ts`.
 *
 * Where adapters differ, the port says so: record ids deduplicate only on adapters that keep a
 * duplicate window ({@link AppendOptions}), and what a retention unit is ({@link LogWriter.enforceRetention}).
 *
 * @example
 * ```ts
 * const log = await openFileEventLog({ dir: '.weir/log' });
 * const writer = await log.openWriter(0);
 * await writer.append([Buffer.from('{"type":"track"}')]); // resolves once fsync'd
 * const consumer = await log.consumer('warehouse');
 * const records = await consumer.poll({ maxRecords: 1000, maxWaitMs: 500 });
 * // ... store the records somewhere durable, then:
 * await consumer.commit();
 * ```
 */
export interface EventLog {
  /** The partitions that exist, in ascending order. */
  partitions(): Promise<number[]>;
  /**
   * Opens the single writer of a partition, creating the partition if needed and recovering its
   * tail. Only one writer per partition may be open at a time, across processes.
   */
  openWriter(partition: number): Promise<LogWriter>;
  /**
   * A consumer of every partition (present and future) for one group. A group that has never
   * committed starts at `start`.
   */
  consumer(group: string, options?: ConsumerOptions): Promise<LogConsumer>;
  /** Per partition: first retained offset, next offset, segments and bytes. */
  stats(): Promise<PartitionStats[]>;
  /** Registered consumer groups and their committed next offset per partition. */
  groups(): Promise<Map<string, Map<number, number>>>;
  close(): Promise<void>;
}

export interface ConsumerOptions {
  /** Where a group without a committed offset begins; default `earliest`. */
  start?: 'earliest' | 'latest';
  /**
   * Ephemeral consumers (e.g. `weir tail`) never commit and do not hold back retention.
   * Default false.
   */
  ephemeral?: boolean;
}

export interface AppendOptions {
  /**
   * Per record, its identity (the collector passes the source id and the event's `messageId`).
   * An adapter with a duplicate window (NATS: `Nats-Msg-Id`, `log.nats.duplicateWindowMs`) stores
   * a record whose id it stored within the window only once, so a client retrying after a lost
   * acknowledgement adds nothing. The file log has no window and stores every record; the
   * warehouse's messageId key covers it.
   */
  ids?: ReadonlyArray<string | undefined>;
}

export interface AppendResult {
  partition: number;
  /** Offset of the first appended record. */
  firstOffset: number;
  /**
   * Offset of the last appended record. The records stored by one append have contiguous
   * offsets; when every record was a duplicate the range is empty (`lastOffset = firstOffset - 1`).
   */
  lastOffset: number;
  /**
   * Records not stored again because their id was already in the log (see
   * {@link AppendOptions.ids}); absent when there were none.
   */
  duplicates?: number;
}

export interface LogWriter {
  readonly partition: number;
  /**
   * Appends records and resolves once all of them are durable (file: group commit, concurrent
   * appends share one fdatasync; NATS: JetStream acknowledged every record). Records of
   * concurrent appends get offsets in call order. Rejects with a retriable {@link WeirError}
   * (`WEIR_LOG_WRITE_FAILED`, `WEIR_LOG_FSYNC_FAILED`, `WEIR_LOG_CLOSED`) when they are not; a
   * rejected append was not acknowledged and may or may not be present after a crash.
   */
  append(records: Buffer[], options?: AppendOptions): Promise<AppendResult>;
  /**
   * `open`, or `failed` after an fsync error (file) or after losing the partition's writer lease
   * (NATS); a failed writer refuses appends until reopened.
   */
  readonly state: 'open' | 'failed' | 'closed';
  /**
   * Deletes what every registered group has passed and what is older than the retention, and
   * returns how many retention units went: whole segments (file log; the active one stays) or
   * records (NATS, whose stream is purged up to a sequence, judged by the server's clock).
   */
  enforceRetention(retentionMs: number): Promise<number>;
  /** Flushes pending appends, then closes. */
  close(): Promise<void>;
}

export interface LogRecord {
  partition: number;
  offset: number;
  value: Buffer;
}

export interface LogConsumer {
  readonly group: string;
  /**
   * Durable records after the last polled position, across partitions; waits up to `maxWaitMs`
   * for the first one.
   */
  poll(options?: { maxRecords?: number; maxWaitMs?: number; signal?: AbortSignal }): Promise<LogRecord[]>;
  /** Commits everything returned by `poll` so far (or the given next offsets per partition). */
  commit(positions?: Map<number, number>): Promise<void>;
  /** Records behind the durable head, per partition. */
  lag(): Promise<Map<number, number>>;
  /** Moves the read position (not the committed offset) of a partition. */
  seek(partition: number, offset: number): void;
  close(): Promise<void>;
}

export interface PartitionStats {
  partition: number;
  /** First offset still retained. */
  firstOffset: number;
  /** Offset the next appended record will get (durable head). */
  nextOffset: number;
  /** Segment files (file log); 0 on adapters that keep no segments of their own (NATS). */
  segments: number;
  bytes: number;
  /** Corrupt regions found and skipped since this process started. */
  corruptRecords: number;
}
