/**
 * Publishes to JetStream with every acknowledgement coming back to one subscription, instead of
 * one request per record (`JetStreamClient.publish`): the library's per-request bookkeeping cost
 * four times the throughput here (2.3k against 10k records/s, 500-byte records, 2 busy cores).
 * A batch shares one timeout.
 *
 * @example
 * ```ts
 * const inbox = new AckInbox(nc);
 * const acks = await inbox.publishAll('weir.events.p0', records, ids, 5000);
 * inbox.close();
 * ```
 */
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

export interface StreamAck {
  seq: number;
  duplicate: boolean;
}

type Settle = (result: StreamAck | Error) => void;

const decoder = new TextDecoder();

/** JetStream's answer to a publish: an ack, an API error, or a status such as 503 (no stream). */
function parseAck(m: Msg): StreamAck | Error {
  if (m.headers?.hasError) return new Error(`${m.headers.code} ${m.headers.description || 'no stream takes the subject'}`);
  try {
    const body = JSON.parse(decoder.decode(m.data)) as { seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
    if (body.error) return new Error(`${body.error.code ?? ''} ${body.error.description ?? 'JetStream refused the record'}`.trim());
    if (typeof body.seq !== 'number') return new Error(`unexpected JetStream reply: ${decoder.decode(m.data).slice(0, 200)}`);
    return { seq: body.seq, duplicate: body.duplicate === true };
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export class AckInbox {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #waiting = new Map<string, Settle>();
  #next = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    this.#prefix = createInbox();
    this.#sub = nc.subscribe(`${this.#prefix}.*`, {
      callback: (err, m) => {
        if (err) return;
        const key = m.subject.slice(this.#prefix.length + 1);
        const settle = this.#waiting.get(key);
        if (settle === undefined) return; // timed out already
        this.#waiting.delete(key);
        settle(parseAck(m));
      },
    });
  }

  /**
   * Publishes `records` in order and resolves with one ack per record, or rejects with the first
   * failure (an error reply, or no reply within `timeoutMs`).
   */
  publishAll(subject: string, records: Uint8Array[], ids: ReadonlyArray<string | undefined> | undefined, timeoutMs: number): Promise<StreamAck[]> {
    const keys: string[] = [];
    const acks = records.map((record, i) => {
      const key = String(this.#next++);
      keys.push(key);
      const id = ids?.[i];
      let h;
      if (id !== undefined) {
        h = headers();
        h.set('Nats-Msg-Id', id);
      }
      const ack = new Promise<StreamAck>((resolve, reject) => {
        this.#waiting.set(key, (r) => (r instanceof Error ? reject(r) : resolve(r)));
      });
      try {
        this.#nc.publish(subject, record, { reply: `${this.#prefix}.${key}`, headers: h });
      } catch (err) {
        this.#waiting.get(key)?.(err instanceof Error ? err : new Error(String(err)));
        this.#waiting.delete(key);
      }
      return ack;
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no acknowledgement within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([Promise.all(acks), timeout]).finally(() => {
      clearTimeout(timer);
      for (const key of keys) this.#waiting.delete(key);
      // Rejections of acks that lost the race are settled here, not left unhandled.
      for (const ack of acks) ack.catch(() => undefined);
    });
  }

  close(): void {
    this.#sub.unsubscribe();
    const error = new Error('the event log writer closed');
    for (const settle of this.#waiting.values()) settle(error);
    this.#waiting.clear();
  }
}
