/**
 * What the collector writes into the event log, one JSON document per record. Every consumer
 * (warehouse loader, lake writer, real-time aggregator, failed-events store, `weir tail`)
 * decodes records with {@link decodeLogRecord}.
 *
 * @example
 * ```ts
 * const buf = encodeAcceptedRecord('src_1', { type: 'track', event: 'A', messageId: 'm1' });
 * decodeLogRecord(buf); // { kind: 'event', sourceId: 'src_1', event: { ... } }
 * ```
 */
export type DecodedRecord =
  | { kind: 'event'; sourceId: string; event: Record<string, unknown> }
  | {
      kind: 'failed';
      sourceId: string;
      reason: string;
      message: string;
      messageId: string | null;
      receivedAt: string;
      /** The item as the client sent it. */
      payload: unknown;
    };

/**
 * Encodes an accepted event. `eventJson` may be passed when the caller already serialised the
 * event (to check its size), so it is not serialised twice.
 */
export function encodeAcceptedRecord(sourceId: string, event: Record<string, unknown>, eventJson?: string): Buffer {
  return Buffer.from(`{"kind":"event","sourceId":${JSON.stringify(sourceId)},"event":${eventJson ?? JSON.stringify(event)}}`);
}

export function encodeFailedRecord(f: Omit<FailedRecord, 'kind'>): Buffer {
  return Buffer.from(
    JSON.stringify({
      kind: 'failed',
      sourceId: f.sourceId,
      reason: f.reason,
      message: f.message,
      messageId: f.messageId,
      receivedAt: f.receivedAt,
      payload: f.payload,
    }),
  );
}

/** A failed-event record: the item as received, with the reason it was refused. */
export type FailedRecord = Extract<DecodedRecord, { kind: 'failed' }>;

export function decodeLogRecord(value: Buffer): DecodedRecord {
  return JSON.parse(value.toString('utf8')) as DecodedRecord;
}
