/**
 * The cross-process lock behind "one writer per partition": a lease message per partition in a
 * stream whose messages expire after the lease time. Taking the lease publishes with "expected
 * last subject sequence" (0, or the sequence of a released lease), so exactly one of two
 * contenders wins; the holder renews it the same way (expecting its own last sequence) every
 * third of the lease, and a holder that crashed stops renewing, so its lease expires.
 *
 * A holder that fails to renew (the server was unreachable for a whole lease, or another process
 * took the lease after it expired) has lost the partition: its writer turns `failed`, so it
 * stops appending once another process may have started.
 *
 * @example
 * ```ts
 * const lease = await WriterLease.acquire(jetStream, names, 0, { leaseMs: 15_000, onLost });
 * await lease.release();
 * ```
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { WeirError } from '../../errors/catalogue.js';
import { apiCode, ensureStream, JS_WRONG_LAST_SEQUENCE, lastBySubject, nanos, type JetStream } from './jetstream.js';
import type { NatsNames } from './names.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface LeaseOptions {
  leaseMs: number;
  publishTimeoutMs: number;
  /** Called once when a renewal fails; the lease is gone. */
  onLost(err: unknown): void;
}

/** Creates the lease stream; messages in it expire after `leaseMs`. */
export function ensureLeaseStream(jet: JetStream, names: NatsNames, replicas: number, leaseMs: number): Promise<void> {
  return ensureStream(
    jet,
    {
      name: names.leasesStream,
      subjects: [names.leasesSubjects],
      max_msgs_per_subject: 1,
      max_age: nanos(leaseMs),
      // JetStream requires the duplicate window to fit in max_age.
      duplicate_window: nanos(Math.min(leaseMs, 120_000)),
    },
    { replicas },
  );
}

export class WriterLease {
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();
  private released = false;
  private renewedAt = Date.now();

  private constructor(
    private readonly jet: JetStream,
    private readonly stream: string,
    private readonly subject: string,
    private readonly owner: string,
    private seq: number,
    private readonly options: LeaseOptions,
  ) {}

  static async acquire(jet: JetStream, names: NatsNames, partition: number, options: LeaseOptions): Promise<WriterLease> {
    const subject = names.leaseSubject(partition);
    // Unique per lease, so a holder can recognise its own renewal that timed out but landed.
    const owner = `${hostname()}:${process.pid}/${randomBytes(4).toString('hex')}`;
    let expected = 0;
    // Twice at most: a released lease is taken over by expecting its sequence.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const ack = await jet.js.publish(subject, encoder.encode(owner), {
          timeout: options.publishTimeoutMs,
          expect: { lastSubjectSequence: expected },
        });
        const lease = new WriterLease(jet, names.leasesStream, subject, owner, ack.seq, options);
        lease.schedule();
        return lease;
      } catch (err) {
        if (apiCode(err) !== JS_WRONG_LAST_SEQUENCE) throw err;
        const current = await lastBySubject(jet, names.leasesStream, subject);
        if (current === undefined) expected = 0; // expired in between
        else if (current.data.length === 0) expected = current.seq; // released
        else throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: decoder.decode(current.data) });
      }
    }
    throw new WeirError('WEIR_LOG_LOCKED', { partition, pid: 'a process taking it at the same time' });
  }

  /** Gives the partition up at once (an empty lease message), instead of letting it expire. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.renewing;
    try {
      await this.jet.js.publish(this.subject, new Uint8Array(), {
        timeout: this.options.publishTimeoutMs,
        expect: { lastSubjectSequence: this.seq },
      });
    } catch {
      // Lost or expired already: either way it is not ours any more.
    }
  }

  private schedule(): void {
    this.timer = setInterval(() => {
      this.renewing = this.renew();
    }, Math.max(100, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (this.released) return;
    try {
      const ack = await this.jet.js.publish(this.subject, encoder.encode(this.owner), {
        timeout: this.options.publishTimeoutMs,
        expect: { lastSubjectSequence: this.seq },
      });
      this.seq = ack.seq;
      this.renewedAt = Date.now();
    } catch (err) {
      if (this.released) return;
      // A failed renewal leaves the lease ours until it expires, and the next one tries again;
      // past that, or when the expectation is refused, another process may hold it.
      if (apiCode(err) !== JS_WRONG_LAST_SEQUENCE) {
        if (Date.now() - this.renewedAt >= this.options.leaseMs) this.lose(err);
        return;
      }
      const current = await lastBySubject(this.jet, this.stream, this.subject).catch(() => undefined);
      if (current !== undefined && decoder.decode(current.data) === this.owner) {
        this.seq = current.seq;
        return;
      }
      this.lose(err);
    }
  }

  private lose(err: unknown): void {
    this.released = true;
    clearInterval(this.timer);
    this.options.onLost(err);
  }
}
