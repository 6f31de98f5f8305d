import { describeEvent } from '../enrich/describe.js';

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

// A source's records all carry its one list of deferred steps: serialised once.
let lastDeferred: readonly string[] | undefined;
let lastDeferredJson = '';

/**
 * Encodes an accepted event. `eventJson` may be passed when the caller already serialised the
 * event (to check its size), so it is not serialised twice. `deferred` lists the descriptive
 * enrichment steps the collector left to the log's readers (`Enricher.deferred`): stored as the
 * record's `enrich` field, run by {@link decodeLogRecord}.
 */
export function encodeAcceptedRecord(
  sourceId: string,
  event: Record<string, unknown>,
  eventJson?: string,
  deferred?: readonly string[],
): Buffer {
  let enrich = '';
  if (deferred !== undefined && deferred.length > 0) {
    if (deferred !== lastDeferred) {
      lastDeferred = deferred;
      lastDeferredJson = JSON.stringify(deferred);
    }
    enrich = `"enrich":${lastDeferredJson},`;
  }
  return Buffer.from(`{"kind":"event","sourceId":${JSON.stringify(sourceId)},${enrich}"event":${eventJson ?? JSON.stringify(event)}}`);
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

/**
 * Decodes a record of the event log. An accepted event's deferred enrichment steps (its `enrich`
 * field) are run here, so every reader sees the enriched event; `{ enrich: false }` skips them for
 * readers that need only the envelope (usage metering, filtering by source).
 */
export function decodeLogRecord(value: Buffer, opts?: { enrich?: boolean }): DecodedRecord {
  const record = JSON.parse(value.toString('utf8')) as DecodedRecord & { enrich?: unknown };
  if (record.kind !== 'event' || record.enrich === undefined) return record;
  const event = record.event;
  if (opts?.enrich !== false && Array.isArray(record.enrich) && typeof event === 'object' && event !== null) {
    describeEvent(event, record.enrich);
  }
  return { kind: 'event', sourceId: record.sourceId, event };
}
