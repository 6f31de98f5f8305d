import { randomUUID } from 'node:crypto';
import { isoTime } from './iso-time.js';
import type { Invalid } from './validate-event.js';

/** What the collector knows about the request an item came in. */
export interface RequestFacts {
  /** Server time the request arrived. */
  receivedAt: Date;
  /** Batch-level `sentAt`, if the sender gave one. */
  sentAt?: unknown;
  /** Batch-level context, merged under each item's own context. */
  context?: Record<string, unknown>;
  /** Batch-level integrations, merged under each item's own integrations. */
  integrations?: Record<string, unknown>;
  /** Client address to keep, or undefined to keep none. */
  ip?: string;
  /**
   * The request's address even when it is not kept: enrichment (GeoIP) and cookieless visitor
   * ids use it, then it is dropped.
   */
  requestIp?: string;
  /** The request's User-Agent header (for browser-tracker events that leave it out). */
  userAgent?: string;
  /** Today's salt for cookieless visitor ids; absent: cookieless events get no derived id. */
  visitorSalt?: Buffer;
}

export type Normalised = { ok: true; event: Record<string, unknown> };

/** A client time, parsed once and formatted once. */
interface ClientTime {
  ms: number;
  iso: string;
}

// Batches repeat the same sentAt (and often the same timestamps): each distinct string is parsed
// and formatted once, which saves most of the date work on the hot path. One slot per field,
// because the fields alternate.
interface MemoSlot {
  in: string | undefined;
  out: ClientTime | null;
}
const memo: { original: MemoSlot; sent: MemoSlot } = {
  original: { in: undefined, out: null },
  sent: { in: undefined, out: null },
};

function clientTime(v: unknown, slot: MemoSlot): ClientTime | null | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return null;
  if (v === slot.in) return slot.out;
  const ms = Date.parse(v);
  slot.in = v;
  slot.out = Number.isNaN(ms) ? null : { ms, iso: isoTime(ms) };
  return slot.out;
}

function badTimestamp(field: string): Invalid {
  return { ok: false, code: 'WEIR_EVENT_INVALID_TIMESTAMP', params: { field } };
}

/** Fields the collector sets itself; a client's values for them are replaced, not copied. */
const OWN_FIELDS: ReadonlySet<string> = new Set([
  'writeKey',
  'messageId',
  'originalTimestamp',
  'sentAt',
  'receivedAt',
  'timestamp',
  'context',
  'integrations',
]);

/**
 * Turns a validated item into the stored event: a `messageId` when missing, `receivedAt`,
 * clock-skew corrected `timestamp`, batch context and integrations merged in, and the client ip
 * only when configured. Returns a new object; the item is left as received, because a failed
 * event must keep what the client sent.
 *
 * Skew correction follows Segment: `timestamp = receivedAt − (sentAt − originalTimestamp)`, so a
 * device whose clock is an hour fast still lands its events at the right server time.
 *
 * @example
 * ```ts
 * normaliseEvent({ type: 'track', event: 'A', userId: 'u', timestamp: '2024-01-01T00:00:00Z',
 *   sentAt: '2024-01-01T00:00:10Z' }, { receivedAt: new Date('2024-01-01T01:00:10Z') });
 * // event.timestamp === '2024-01-01T01:00:00.000Z', event.originalTimestamp === '2024-01-01T00:00:00.000Z'
 * ```
 */
export function normaliseEvent(
  item: Record<string, unknown>,
  facts: RequestFacts,
  receivedAtIso: string,
): Normalised | Invalid {
  const original = clientTime(item.originalTimestamp ?? item.timestamp, memo.original);
  if (original === null) return badTimestamp(item.originalTimestamp !== undefined ? 'originalTimestamp' : 'timestamp');
  const sent = clientTime(item.sentAt ?? facts.sentAt, memo.sent);
  if (sent === null) return badTimestamp('sentAt');

  let timestamp: string;
  if (original === undefined) timestamp = receivedAtIso;
  else if (sent === undefined) timestamp = original.iso;
  else if (sent.ms === original.ms) timestamp = receivedAtIso;
  else timestamp = isoTime(facts.receivedAt.getTime() - (sent.ms - original.ms));

  // Built by copying rather than spread-then-delete: `delete` turns an object into a slow
  // dictionary, which also makes the JSON.stringify that follows several times slower.
  // Assigning keys is safe here: inspectStructure refused "__proto__" before this step.
  const event: Record<string, unknown> = {};
  for (const key in item) if (!OWN_FIELDS.has(key)) event[key] = item[key];
  event.messageId = item.messageId === undefined || item.messageId === null ? randomUUID() : String(item.messageId);
  if (typeof item.userId === 'number') event.userId = String(item.userId);
  if (typeof item.anonymousId === 'number') event.anonymousId = String(item.anonymousId);
  if (original !== undefined) event.originalTimestamp = original.iso;
  if (sent !== undefined) event.sentAt = sent.iso;
  event.receivedAt = receivedAtIso;
  event.timestamp = timestamp;

  const ownContext = item.context as Record<string, unknown> | undefined;
  if (facts.context !== undefined || facts.ip !== undefined || (ownContext !== undefined && 'ip' in ownContext)) {
    // As `{ ...facts.context, ...ownContext }` less `ip`, without the spreads: two spreads into one
    // literal take V8's slow path, and this runs for every event when addresses are kept.
    const context: Record<string, unknown> = {};
    const batch = facts.context;
    if (batch !== undefined) for (const key in batch) if (key !== 'ip') context[key] = batch[key];
    if (ownContext !== undefined) for (const key in ownContext) if (key !== 'ip') context[key] = ownContext[key];
    if (facts.ip !== undefined) context.ip = (ownContext !== undefined && 'ip' in ownContext ? ownContext.ip : batch?.ip) ?? facts.ip;
    event.context = context;
  } else if (ownContext !== undefined) {
    event.context = ownContext;
  }
  if (facts.integrations !== undefined) {
    event.integrations = { ...facts.integrations, ...(item.integrations as Record<string, unknown> | undefined) };
  } else if (item.integrations !== undefined) {
    event.integrations = item.integrations;
  }
  return { ok: true, event };
}
