/**
 * The writer of one partition: publishes every record to the partition's stream and resolves an
 * append once JetStream acknowledged all of its records (stored on the stream's quorum of
 * replicas, on file storage), so an HTTP 200 that waits for the append follows the acks.
 *
 * Offsets are the stream sequences minus one, read from the acknowledgements rather than
 * predicted: publishes of one writer leave on one connection in call order and a stream stores
 * them in arrival order, so an append's records get contiguous sequences, and the lease keeps
 * other processes from interleaving theirs.
 */
import { WeirError } from '../../errors/catalogue.js';
import type { AppendOptions, AppendResult, LogWriter } from '../event-log.js';
import { AckInbox, type StreamAck } from './ack-inbox.js';
import type { JetStream } from './jetstream.js';
import type { NatsNames } from './names.js';
import type { WriterLease } from './writer-lease.js';

export interface PartitionWriterHost {
  readonly jet: JetStream;
  readonly names: NatsNames;
  readonly publishTimeoutMs: number;
  /** Committed offsets in the partition of every registered group. */
  registeredOffsets(partition: number): Promise<number[]>;
  writerClosed(writer: NatsPartitionWriter): void;
}

export class NatsPartitionWriter implements LogWriter {
  #state: 'open' | 'failed' | 'closed' = 'open';
  #closing = false;
  #closed: Promise<void> | undefined;
  readonly #pending = new Set<Promise<unknown>>();
  readonly #subject: string;
  readonly #stream: string;
  #lease: WriterLease | undefined;
  readonly #inbox: AckInbox;
  #lostReason = '';

  constructor(
    private readonly host: PartitionWriterHost,
    readonly partition: number,
  ) {
    this.#subject = host.names.partitionSubject(partition);
    this.#stream = host.names.partitionStream(partition);
    this.#inbox = new AckInbox(host.jet.nc);
  }

  /** Called once the lease is held. */
  attachLease(lease: WriterLease): void {
    this.#lease = lease;
  }

  /** The lease was taken over: refuse appends until the partition is reopened. */
  leaseLost(err: unknown): void {
    if (this.#state !== 'open') return;
    this.#state = 'failed';
    this.#lostReason = `lost the writer lease of partition ${this.partition}: ${err instanceof Error ? err.message : String(err)}`;
  }

  get state(): 'open' | 'failed' | 'closed' {
    return this.#state;
  }

  append(records: Buffer[], options: AppendOptions = {}): Promise<AppendResult> {
    if (this.#closing || this.#state === 'closed') return Promise.reject(new WeirError('WEIR_LOG_CLOSED'));
    if (this.#state === 'failed') return Promise.reject(new WeirError('WEIR_LOG_WRITE_FAILED', { detail: this.#lostReason }));
    // Every record is published before the first await, so the records of concurrent appends
    // leave in call order.
    const acks = this.#inbox.publishAll(this.#subject, records, options.ids, this.host.publishTimeoutMs);
    const result = this.#settle(acks);
    this.#pending.add(result);
    void result.finally(() => this.#pending.delete(result)).catch(() => undefined);
    return result;
  }

  async enforceRetention(retentionMs: number): Promise<number> {
    if (this.#closing || this.#state === 'closed') throw new WeirError('WEIR_LOG_CLOSED');
    const { jsm } = this.host.jet;
    const { state } = await jsm.streams.info(this.#stream);
    if (state.messages === 0) return 0;
    const committed = await this.host.registeredOffsets(this.partition);
    // Offset o is sequence o + 1: what every group passed are the sequences below min(next) + 1.
    const passedSeq = committed.length === 0 ? state.last_seq + 1 : Math.min(...committed) + 1;
    let lo = state.first_seq;
    let hi = Math.min(passedSeq, state.last_seq + 1);
    const cutoff = Date.now() - retentionMs;
    // Sequences are in time order: find the first one younger than the retention.
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await jsm.streams.getMessage(this.#stream, { seq: mid });
      if (m === null || m.time.getTime() <= cutoff) lo = mid + 1;
      else hi = mid;
    }
    if (lo <= state.first_seq) return 0;
    const { purged } = await jsm.streams.purge(this.#stream, { seq: lo });
    return purged;
  }

  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= this.#closeOnce();
    return this.#closed;
  }

  async #closeOnce(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
    this.#state = 'closed';
    this.#inbox.close();
    await this.#lease?.release();
    this.host.writerClosed(this);
  }

  async #settle(pending: Promise<StreamAck[]>): Promise<AppendResult> {
    let acks: StreamAck[];
    try {
      acks = await pending;
    } catch (err) {
      throw new WeirError('WEIR_LOG_WRITE_FAILED', { detail: `publish to ${this.#subject}: ${err instanceof Error ? err.message : String(err)}` }, { cause: err });
    }
    let first = Number.POSITIVE_INFINITY;
    let last = -1;
    let duplicates = 0;
    for (const ack of acks) {
      if (ack.duplicate) {
        duplicates++;
        continue;
      }
      first = Math.min(first, ack.seq - 1);
      last = Math.max(last, ack.seq - 1);
    }
    if (last < 0) {
      const next = await this.#nextOffset();
      first = next;
      last = next - 1;
    }
    const result: AppendResult = { partition: this.partition, firstOffset: first, lastOffset: last };
    if (duplicates > 0) result.duplicates = duplicates;
    return result;
  }

  async #nextOffset(): Promise<number> {
    return (await this.host.jet.jsm.streams.info(this.#stream)).state.last_seq;
  }
}
