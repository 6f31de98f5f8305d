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
  // receivedAt is repeated in the envelope, where readers that need only the envelope (usage
  // metering) find it without parsing the event: see peekEnvelope.
  const at = typeof event.receivedAt === 'string' ? `"receivedAt":${JSON.stringify(event.receivedAt)},` : '';
  return Buffer.from(`{"kind":"event","sourceId":${JSON.stringify(sourceId)},${at}${enrich}"event":${eventJson ?? JSON.stringify(event)}}`);
}

/** What every record says about itself: its kind, its source and when the collector received it. */
export interface RecordEnvelope {
  kind: 'event' | 'failed';
  sourceId: string;
  /** ISO time; undefined only in a record that lacks it (the collector always sets it). */
  receivedAt: string | undefined;
}

const EVENT_HEAD = Buffer.from('{"kind":"event","sourceId":"');
const AT_KEY = Buffer.from('","receivedAt":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Whether `value` holds `pattern` at `at`; a loop, as `Buffer.compare` costs more to call than this does. */
function bytesAt(value: Buffer, pattern: Buffer, at: number): boolean {
  if (at + pattern.length > value.length) return false;
  for (let i = 0; i < pattern.length; i++) if (value[at + i] !== pattern[i]) return false;
  return true;
}

/**
 * The envelope of a record, read from the front of an accepted event's record as
 * {@link encodeAcceptedRecord} writes it, without parsing the event; any other record (a failed
 * event, a record written before the envelope carried `receivedAt`, an escaped string) is
 * decoded in full. Usage metering reads every record for this alone: a JSON.parse of the whole
 * record cost the all-in-one box's sinks process more CPU than any other step.
 *
 * @example
 * ```ts
 * peekEnvelope(encodeAcceptedRecord('src_1', { type: 'track', messageId: 'm1', receivedAt: '2026-11-22T10:00:00.000Z' }));
 * // { kind: 'event', sourceId: 'src_1', receivedAt: '2026-11-22T10:00:00.000Z' }
 * ```
 */
export function peekEnvelope(value: Buffer): RecordEnvelope {
  if (bytesAt(value, EVENT_HEAD, 0)) {
    const idStart = EVENT_HEAD.length;
    const idEnd = value.indexOf(QUOTE, idStart);
    const atStart = idEnd + AT_KEY.length;
    if (idEnd > idStart && bytesAt(value, AT_KEY, idEnd)) {
      const atEnd = value.indexOf(QUOTE, atStart);
      // A backslash would mean an escape: the plain slice would not be the string's value.
      const plain = atEnd > atStart && value.subarray(idStart, atEnd).indexOf(BACKSLASH) === -1;
      if (plain) return { kind: 'event', sourceId: value.toString('utf8', idStart, idEnd), receivedAt: value.toString('utf8', atStart, atEnd) };
    }
  }
  const d = decodeLogRecord(value, { enrich: false });
  const receivedAt = d.kind === 'event' ? d.event.receivedAt : d.receivedAt;
  return { kind: d.kind, sourceId: d.sourceId, receivedAt: typeof receivedAt === 'string' ? receivedAt : undefined };
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
  if (record.kind !== 'event') return record;
  const event = record.event;
  if (opts?.enrich !== false && Array.isArray(record.enrich) && typeof event === 'object' && event !== null) {
    describeEvent(event, record.enrich);
  }
  return { kind: 'event', sourceId: record.sourceId, event };
}
