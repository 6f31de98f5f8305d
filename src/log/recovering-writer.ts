import { WeirError } from '../errors/catalogue.js';
import type { AppendOptions, AppendResult, EventLog, LogWriter } from './event-log.js';

export interface RecoveringWriterOptions {
  /** Where reopen failures are logged. */
  logger?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** First wait before reopening again after a failed reopen; doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * The writer of one partition that reopens itself after it failed (an fsync error, or a write
 * error it could not clean up), so the collector process keeps running and answers 503 for as
 * long as the partition is being recovered, instead of exiting and dropping its connections.
 *
 * Reopening goes through {@link EventLog.openWriter}, which runs the adapter's recovery: the file
 * log drops everything after the last successful sync and starts a new segment (see
 * `distrustTail` in `file/partition-writer.ts`). Until that has succeeded, appends are refused
 * with `WEIR_INGEST_UNAVAILABLE` (503, retriable); a failed reopen is tried again with backoff.
 *
 * @example
 * ```ts
 * const writer = await RecoveringWriter.open(log, 0, { logger });
 * await writer.append([record]); // on an fsync error: rejected, and the partition is reopened
 * writer.state; // 'failed' while recovering, then 'open'
 * ```
 */
export class RecoveringWriter implements LogWriter {
  readonly partition: number;
  #current: LogWriter;
  #recovering: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  /** When the partition last stopped taking writes; undefined while it takes them. */
  #failingSince: number | undefined;

  private constructor(
    private readonly log: Pick<EventLog, 'openWriter'>,
    writer: LogWriter,
    private readonly options: RecoveringWriterOptions,
  ) {
    this.partition = writer.partition;
    this.#current = writer;
  }

  static async open(log: Pick<EventLog, 'openWriter'>, partition: number, options: RecoveringWriterOptions = {}): Promise<RecoveringWriter> {
    return new RecoveringWriter(log, await log.openWriter(partition), options);
  }

  /** `failed` from the inner writer's failure until a reopen succeeds. */
  get state(): 'open' | 'failed' | 'closed' {
    if (this.#closed) return 'closed';
    return this.#recovering || this.#current.state === 'failed' ? 'failed' : this.#current.state;
  }

  /** Milliseconds the partition has been refusing writes, or 0. */
  failingForMs(now = Date.now()): number {
    return this.#failingSince === undefined ? 0 : now - this.#failingSince;
  }

  append(records: Buffer[], options?: AppendOptions): Promise<AppendResult> {
    const writer = this.#current;
    if (writer.state === 'open' && !this.#recovering) {
      // The options carry the records' ids, which a deduplicating log (JetStream) needs.
      const appended = writer.append(records, options);
      // Only a rejection can mean the writer just failed; a resolved append costs nothing extra.
      appended.catch(() => {
        if (writer.state === 'failed') this.#recover();
      });
      return appended;
    }
    if (this.#closed) return Promise.reject(new WeirError('WEIR_LOG_CLOSED'));
    this.#recover();
    return Promise.reject(new WeirError('WEIR_INGEST_UNAVAILABLE', { detail: `partition ${this.partition} of the event log is being recovered after a failed write` }));
  }

  enforceRetention(retentionMs: number): Promise<number> {
    return this.#current.enforceRetention(retentionMs);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    await this.#recovering;
    await this.#current.close();
  }

  #recover(): void {
    if (this.#recovering || this.#closed) return;
    this.#failingSince ??= Date.now();
    this.#recovering = this.#reopenLoop().finally(() => {
      this.#recovering = undefined;
    });
  }

  async #reopenLoop(): Promise<void> {
    let delay = this.options.minDelayMs ?? 100;
    const maxDelay = this.options.maxDelayMs ?? 5000;
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        this.#current = await this.log.openWriter(this.partition);
        this.options.logger?.info({ partition: this.partition, attempt, failedForMs: this.failingForMs() }, 'event log partition reopened after a failure');
        this.#failingSince = undefined;
        return;
      } catch (err) {
        this.options.logger?.warn({ partition: this.partition, attempt, err }, 'cannot reopen the event log partition yet; trying again');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      delay = Math.min(delay * 2, maxDelay);
    }
  }
}
