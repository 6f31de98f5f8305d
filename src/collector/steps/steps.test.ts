import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspectStructure } from './inspect-structure.js';
import { validateEvent } from './validate-event.js';
import { normaliseEvent } from './normalise-event.js';

const limits = { maxDepth: 8, maxProperties: 50 };

test('inspectStructure accepts ordinary events', () => {
  assert.deepEqual(inspectStructure({ type: 'track', properties: { a: [1, { b: 2 }] } }, limits), { kind: 'ok' });
});

test('inspectStructure refuses depth, key count and prototype keys without recursion', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.deepEqual(inspectStructure({ p: deep }, limits), { kind: 'too-deep' });
  const wide = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
  assert.deepEqual(inspectStructure(wide, limits), { kind: 'too-many-properties' });
  assert.deepEqual(inspectStructure(JSON.parse('{"a":{"__proto__":{"x":1}}}'), limits), { kind: 'forbidden-key', key: '__proto__' });
  assert.deepEqual(inspectStructure(JSON.parse('{"constructor":{"prototype":{}}}'), limits), {
    kind: 'forbidden-key',
    key: 'constructor.prototype',
  });
});

test('inspectStructure finds numbers JSON cannot hold', () => {
  assert.deepEqual(inspectStructure(JSON.parse('{"properties":{"price":1e400}}'), limits), { kind: 'non-finite', field: 'price' });
});

test('validateEvent follows the Segment spec', () => {
  const cases: Array<[unknown, string | true]> = [
    [{ type: 'track', event: 'Signed Up', userId: 'u' }, true],
    [{ type: 'track', event: 'Signed Up', anonymousId: 42 }, true],
    [{ type: 'page', anonymousId: 'a' }, true],
    [{ type: 'identify', userId: 'u', traits: { email: 'x' } }, true],
    [{ type: 'group', userId: 'u', groupId: 'g' }, true],
    [{ type: 'alias', userId: 'u', previousId: 'p' }, true],
    ['nope', 'WEIR_EVENT_NOT_AN_OBJECT'],
    [[1], 'WEIR_EVENT_NOT_AN_OBJECT'],
    [{ userId: 'u' }, 'WEIR_EVENT_MISSING_TYPE'],
    [{ type: 'purchase', userId: 'u' }, 'WEIR_EVENT_UNKNOWN_TYPE'],
    [{ type: 'track', event: 'A' }, 'WEIR_EVENT_MISSING_IDENTITY'],
    [{ type: 'track', event: 'A', userId: '' }, 'WEIR_EVENT_MISSING_IDENTITY'],
    [{ type: 'track', userId: 'u' }, 'WEIR_EVENT_MISSING_EVENT_NAME'],
    [{ type: 'track', event: 7, userId: 'u' }, 'WEIR_EVENT_INVALID_FIELD'],
    [{ type: 'track', event: 'A', userId: { id: 1 } }, 'WEIR_EVENT_INVALID_FIELD'],
    [{ type: 'track', event: 'A', userId: 'u', properties: [] }, 'WEIR_EVENT_INVALID_FIELD'],
    [{ type: 'track', event: 'A', userId: 'u', context: 'x' }, 'WEIR_EVENT_INVALID_FIELD'],
    [{ type: 'track', event: 'A', userId: 'u', messageId: {} }, 'WEIR_EVENT_INVALID_FIELD'],
    [{ type: 'group', userId: 'u' }, 'WEIR_EVENT_MISSING_GROUP_ID'],
    [{ type: 'alias', userId: 'u' }, 'WEIR_EVENT_MISSING_PREVIOUS_ID'],
  ];
  for (const [item, expected] of cases) {
    const r = validateEvent(item);
    assert.equal(r.ok ? true : r.code, expected, JSON.stringify(item));
  }
});

test('normaliseEvent corrects clock skew as Segment does', () => {
  const receivedAt = new Date('2024-05-01T12:00:10.000Z');
  const r = normaliseEvent(
    { type: 'track', event: 'A', userId: 'u', timestamp: '2024-05-01T13:00:00.000Z', sentAt: '2024-05-01T13:00:05.000Z' },
    { receivedAt },
    receivedAt.toISOString(),
  );
  assert.ok(r.ok);
  // The device clock is one hour fast; the event happened 5 s before the batch was sent.
  assert.equal(r.event.timestamp, '2024-05-01T12:00:05.000Z');
  assert.equal(r.event.originalTimestamp, '2024-05-01T13:00:00.000Z');
  assert.equal(r.event.receivedAt, '2024-05-01T12:00:10.000Z');
  assert.match(String(r.event.messageId), /^[0-9a-f-]{36}$/);
});

test('normaliseEvent without client time uses receivedAt; keeps a given messageId', () => {
  const receivedAt = new Date('2024-05-01T12:00:10.000Z');
  const r = normaliseEvent({ type: 'page', anonymousId: 'a', messageId: 'm-1' }, { receivedAt }, receivedAt.toISOString());
  assert.ok(r.ok);
  assert.equal(r.event.timestamp, receivedAt.toISOString());
  assert.equal(r.event.messageId, 'm-1');
  assert.equal('originalTimestamp' in r.event, false);
});

test('normaliseEvent merges batch context and integrations, item wins', () => {
  const receivedAt = new Date();
  const item = { type: 'track', event: 'A', userId: 'u', context: { page: { path: '/x' } }, integrations: { All: false } };
  const r = normaliseEvent(
    item,
    { receivedAt, context: { library: { name: 'lib' }, page: { path: '/batch' } }, integrations: { All: true, Mixpanel: false } },
    receivedAt.toISOString(),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.event.context, { library: { name: 'lib' }, page: { path: '/x' } });
  assert.deepEqual(r.event.integrations, { All: false, Mixpanel: false });
  assert.deepEqual(item.context, { page: { path: '/x' } }, 'the received item is not changed');
});

test('normaliseEvent merges contexts in spread order; the item\'s ip, then the batch\'s, then the request\'s', () => {
  const receivedAt = new Date();
  const iso = receivedAt.toISOString();
  const merged = (own: Record<string, unknown> | undefined, batch: Record<string, unknown> | undefined, ip: string | undefined) => {
    const r = normaliseEvent({ type: 'track', event: 'A', userId: 'u', ...(own && { context: own }) }, { receivedAt, context: batch, ip }, iso);
    assert.ok(r.ok);
    return JSON.stringify(r.event.context);
  };
  const own = { locale: 'en', ip: '1.1.1.1', page: { path: '/own' } };
  const batch = { page: { path: '/batch' }, ip: '2.2.2.2', library: { name: 'lib' } };
  assert.equal(merged(own, batch, '3.3.3.3'), JSON.stringify({ page: { path: '/own' }, library: { name: 'lib' }, locale: 'en', ip: '1.1.1.1' }));
  assert.equal(merged({ locale: 'en' }, batch, '3.3.3.3'), JSON.stringify({ page: { path: '/batch' }, library: { name: 'lib' }, locale: 'en', ip: '2.2.2.2' }));
  assert.equal(merged({ ip: null }, batch, '3.3.3.3'), JSON.stringify({ page: { path: '/batch' }, library: { name: 'lib' }, ip: '3.3.3.3' }));
  assert.equal(merged(own, batch, undefined), JSON.stringify({ page: { path: '/own' }, library: { name: 'lib' }, locale: 'en' }));
});

test('normaliseEvent keeps the client ip only when asked', () => {
  const receivedAt = new Date();
  const iso = receivedAt.toISOString();
  const sent = { type: 'track', event: 'A', userId: 'u', context: { ip: '1.2.3.4' } };
  const dropped = normaliseEvent(sent, { receivedAt }, iso);
  assert.ok(dropped.ok);
  assert.deepEqual(dropped.event.context, {});
  const kept = normaliseEvent({ type: 'track', event: 'A', userId: 'u' }, { receivedAt, ip: '5.6.7.8' }, iso);
  assert.ok(kept.ok);
  assert.deepEqual(kept.event.context, { ip: '5.6.7.8' });
});

test('normaliseEvent refuses unparseable timestamps', () => {
  const receivedAt = new Date();
  const r = normaliseEvent({ type: 'track', event: 'A', userId: 'u', timestamp: 'yesterday' }, { receivedAt }, receivedAt.toISOString());
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.code, 'WEIR_EVENT_INVALID_TIMESTAMP');
});
