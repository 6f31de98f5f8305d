import { randomUUID } from 'node:crypto';
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
}

export type Normalised = { ok: true; event: Record<string, unknown> };

function toDate(v: unknown): Date | null | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? null : new Date(ms);
}

function badTimestamp(field: string): Invalid {
  return { ok: false, code: 'WEIR_EVENT_INVALID_TIMESTAMP', params: { field } };
}

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
  const original = toDate(item.originalTimestamp ?? item.timestamp);
  if (original === null) return badTimestamp(item.originalTimestamp !== undefined ? 'originalTimestamp' : 'timestamp');
  const sent = toDate(item.sentAt ?? facts.sentAt);
  if (sent === null) return badTimestamp('sentAt');

  let timestamp: string;
  if (original === undefined) timestamp = receivedAtIso;
  else if (sent === undefined) timestamp = original.toISOString();
  else timestamp = new Date(facts.receivedAt.getTime() - (sent.getTime() - original.getTime())).toISOString();

  // Spread copies own keys with define semantics, so even odd keys cannot touch prototypes.
  const event: Record<string, unknown> = { ...item };
  delete event.writeKey;
  event.messageId = item.messageId === undefined || item.messageId === null ? randomUUID() : String(item.messageId);
  if (typeof item.userId === 'number') event.userId = String(item.userId);
  if (typeof item.anonymousId === 'number') event.anonymousId = String(item.anonymousId);
  if (original !== undefined) event.originalTimestamp = original.toISOString();
  else delete event.originalTimestamp;
  if (sent !== undefined) event.sentAt = sent.toISOString();
  event.receivedAt = receivedAtIso;
  event.timestamp = timestamp;

  const ownContext = item.context as Record<string, unknown> | undefined;
  if (facts.context !== undefined || facts.ip !== undefined || (ownContext && 'ip' in ownContext)) {
    const context: Record<string, unknown> = { ...facts.context, ...ownContext };
    if (facts.ip !== undefined) context.ip ??= facts.ip;
    else delete context.ip;
    event.context = context;
  }
  if (facts.integrations !== undefined) {
    event.integrations = { ...facts.integrations, ...(item.integrations as Record<string, unknown> | undefined) };
  }
  return { ok: true, event };
}
