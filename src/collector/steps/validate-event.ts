import type { ErrorCode, ErrorParams } from '../../errors/catalogue.js';

/** The Segment message types. */
export const EVENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

export type Invalid = { ok: false; code: ErrorCode; params: ErrorParams };
export type Validated = { ok: true; type: EventType };

const OBJECT_FIELDS = ['properties', 'traits', 'context', 'integrations'] as const;
const STRING_FIELDS = ['name', 'category'] as const;

function invalid(code: ErrorCode, params: ErrorParams = {}): Invalid {
  return { ok: false, code, params };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isAbsent(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

function isId(v: unknown): boolean {
  return (typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Checks one item against the Segment spec. Expected bad input is a value, not an exception:
 * the caller turns an `Invalid` into a failed event with `code` as its reason.
 *
 * @example
 * ```ts
 * validateEvent({ type: 'track', userId: 'u1' }); // { ok: false, code: 'WEIR_EVENT_MISSING_EVENT_NAME', ... }
 * validateEvent({ type: 'track', event: 'Signed Up', userId: 'u1' }); // { ok: true, type: 'track' }
 * ```
 */
export function validateEvent(item: unknown): Validated | Invalid {
  if (!isPlainObject(item)) return invalid('WEIR_EVENT_NOT_AN_OBJECT');
  const type = item.type;
  if (type === undefined || type === null || type === '') return invalid('WEIR_EVENT_MISSING_TYPE');
  if (typeof type !== 'string' || !TYPE_SET.has(type)) return invalid('WEIR_EVENT_UNKNOWN_TYPE', { type: String(type) });

  const { userId, anonymousId } = item;
  // SDKs send "" for an identity they do not have; that is absence, not a wrong type.
  if (!isAbsent(userId) && !isId(userId)) {
    return invalid('WEIR_EVENT_INVALID_FIELD', { field: 'userId', expected: 'a non-empty string' });
  }
  if (!isAbsent(anonymousId) && !isId(anonymousId)) {
    return invalid('WEIR_EVENT_INVALID_FIELD', { field: 'anonymousId', expected: 'a non-empty string' });
  }
  if (!isId(userId) && !isId(anonymousId)) return invalid('WEIR_EVENT_MISSING_IDENTITY');

  const messageId = item.messageId;
  if (messageId !== undefined && messageId !== null && !isId(messageId)) {
    return invalid('WEIR_EVENT_INVALID_FIELD', { field: 'messageId', expected: 'a non-empty string' });
  }
  for (const field of OBJECT_FIELDS) {
    const v = item[field];
    if (v !== undefined && v !== null && !isPlainObject(v)) {
      return invalid('WEIR_EVENT_INVALID_FIELD', { field, expected: 'an object' });
    }
  }
  for (const field of STRING_FIELDS) {
    const v = item[field];
    if (v !== undefined && v !== null && typeof v !== 'string') {
      return invalid('WEIR_EVENT_INVALID_FIELD', { field, expected: 'a string' });
    }
  }

  switch (type as EventType) {
    case 'track':
      if (typeof item.event !== 'string' || item.event.trim() === '') {
        return item.event === undefined || item.event === null || item.event === ''
          ? invalid('WEIR_EVENT_MISSING_EVENT_NAME')
          : invalid('WEIR_EVENT_INVALID_FIELD', { field: 'event', expected: 'a non-empty string' });
      }
      break;
    case 'group':
      if (!isId(item.groupId)) return invalid('WEIR_EVENT_MISSING_GROUP_ID');
      break;
    case 'alias':
      if (!isId(item.previousId)) return invalid('WEIR_EVENT_MISSING_PREVIOUS_ID');
      break;
    default:
      break;
  }
  return { ok: true, type: type as EventType };
}
