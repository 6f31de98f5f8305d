import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellOf, coerce, eventTableName, mapEvent, snakeCase } from './segment-schema.js';

const base = {
  messageId: 'm1',
  anonymousId: 'a1',
  receivedAt: '2026-11-22T10:00:01.000Z',
  sentAt: '2026-11-22T10:00:00.500Z',
  timestamp: '2026-11-22T10:00:00.400Z',
  originalTimestamp: '2026-11-22T10:00:00.000Z',
};

function columns(cells: Map<string, { value: unknown; type: string }>): Record<string, [unknown, string]> {
  return Object.fromEntries([...cells].map(([k, c]) => [k, [c.value instanceof Date ? c.value.toISOString() : c.value, c.type]]));
}

test('snake_case as go-snakecase', () => {
  assert.equal(snakeCase('Order Completed'), 'order_completed');
  assert.equal(snakeCase('productID'), 'product_id');
  assert.equal(snakeCase('HTTPRequest'), 'http_request');
  assert.equal(snakeCase('already_snake'), 'already_snake');
  assert.equal(snakeCase('  spaced--out!! '), 'spaced_out');
  assert.equal(snakeCase('2fa enabled'), '_2fa_enabled');
  assert.equal(snakeCase('Ünïcode ✓'), 'n_code');
  assert.equal(snakeCase('✓'), 'unnamed');
  assert.equal(snakeCase('x'.repeat(100)).length, 63);
  assert.equal(eventTableName('Users'), 'track_users', 'a track event cannot overwrite a Weir table');
});

test('types: integers bigint, fractions double, ISO date-times timestamp, objects and arrays JSON text', () => {
  assert.deepEqual(cellOf(3), { value: 3, type: 'bigint' });
  assert.deepEqual(cellOf(3.5), { value: 3.5, type: 'double' });
  assert.deepEqual(cellOf(2 ** 60), { value: 2 ** 60, type: 'double' });
  assert.deepEqual(cellOf(true), { value: true, type: 'boolean' });
  assert.deepEqual(cellOf('hello'), { value: 'hello', type: 'varchar' });
  assert.equal(cellOf('2026-11-22T10:00:00Z')?.type, 'timestamp');
  assert.equal(cellOf('2026-11-22')?.type, 'varchar', 'a plain date stays text');
  assert.equal(cellOf('2026-13-45T99:00:00Z')?.type, 'varchar', 'not a real date');
  assert.deepEqual(cellOf([1, 'a']), { value: '[1,"a"]', type: 'varchar' });
  assert.equal(cellOf(null), undefined);
});

test('a track fills tracks and its event table; properties unprefixed, context flattened', () => {
  const { rows, discards } = mapEvent({
    ...base,
    type: 'track',
    event: 'Order Completed',
    userId: 42,
    properties: { total: 30.5, items: 2, coupon: null, product: { sku: 'S1', tags: ['a', 'b'] }, id: 'mine', event: 'x' },
    context: { page: { url: 'https://shop.example/cart' }, library: { name: 'analytics.js' } },
  });
  assert.deepEqual(rows.map((r) => [r.table, r.mode]), [
    ['tracks', 'insert'],
    ['order_completed', 'insert'],
  ]);
  const tracks = columns(rows[0]!.cells);
  assert.deepEqual(tracks.id, ['m1', 'varchar']);
  assert.deepEqual(tracks.user_id, ['42', 'varchar'], 'ids are text even when sent as numbers');
  assert.deepEqual(tracks.event, ['order_completed', 'varchar']);
  assert.deepEqual(tracks.event_text, ['Order Completed', 'varchar']);
  assert.deepEqual(tracks.timestamp, ['2026-11-22T10:00:00.400Z', 'timestamp']);
  assert.deepEqual(tracks.context_page_url, ['https://shop.example/cart', 'varchar']);
  assert.equal(tracks.total, undefined, 'tracks has no properties');
  const order = columns(rows[1]!.cells);
  assert.deepEqual(order.total, [30.5, 'double']);
  assert.deepEqual(order.items, [2, 'bigint']);
  assert.equal('coupon' in order, false, 'no column for null');
  assert.deepEqual(order.product_sku, ['S1', 'varchar']);
  assert.deepEqual(order.product_tags, ['["a","b"]', 'varchar']);
  assert.deepEqual(order.id, ['m1', 'varchar'], 'the envelope wins over a property named id');
  assert.deepEqual(
    discards.map((d) => [d.table, d.column, d.value, d.messageId]),
    [
      ['order_completed', 'id', '"mine"', 'm1'],
      ['order_completed', 'event', '"x"', 'm1'],
    ],
  );
  assert.match(discards[0]!.reason, /reserved/);
});

test('identify fills identifies and upserts users keyed by user id; traits.name is a column', () => {
  const { rows, discards } = mapEvent({ ...base, type: 'identify', userId: 'u1', traits: { name: 'Ada', plan: 'pro', address: { city: 'Berlin' } } });
  assert.deepEqual(rows.map((r) => [r.table, r.mode]), [
    ['identifies', 'insert'],
    ['users', 'upsert'],
  ]);
  assert.deepEqual(columns(rows[1]!.cells), {
    id: ['u1', 'varchar'],
    received_at: ['2026-11-22T10:00:01.000Z', 'timestamp'],
    name: ['Ada', 'varchar'],
    plan: ['pro', 'varchar'],
    address_city: ['Berlin', 'varchar'],
  });
  assert.deepEqual(columns(rows[0]!.cells).name, ['Ada', 'varchar']);
  assert.deepEqual(discards, []);
  const anonymous = mapEvent({ ...base, type: 'identify', traits: { plan: 'free' } });
  assert.deepEqual(anonymous.rows.map((r) => r.table), ['identifies'], 'no users row without a user id');
});

test('pages, screens, groups and aliases', () => {
  const page = mapEvent({ ...base, type: 'page', name: 'Home', properties: { path: '/', name: 'clash' } });
  assert.deepEqual(columns(page.rows[0]!.cells).name, ['Home', 'varchar']);
  assert.deepEqual(page.discards.map((d) => d.column), ['name']);
  assert.equal(mapEvent({ ...base, type: 'screen', name: 'Main' }).rows[0]!.table, 'screens');
  const group = mapEvent({ ...base, type: 'group', userId: 'u', groupId: 7, traits: { employees: 40 } });
  assert.deepEqual(columns(group.rows[0]!.cells).group_id, ['7', 'varchar']);
  assert.deepEqual(columns(group.rows[0]!.cells).employees, [40, 'bigint']);
  const alias = mapEvent({ ...base, type: 'alias', userId: 'u', previousId: 'a1' });
  assert.deepEqual(columns(alias.rows[0]!.cells).previous_id, ['a1', 'varchar']);
});

test('columns that collide after flattening keep the first value and report the second', () => {
  const { rows, discards } = mapEvent({ ...base, type: 'track', event: 'A', userId: 'u', properties: { a_b: 1, a: { b: 2 } } });
  assert.deepEqual(columns(rows[1]!.cells).a_b, [1, 'bigint']);
  assert.deepEqual(discards.map((d) => [d.column, d.value]), [['a_b', '2']]);
});

test('coerce: integers widen to double, timestamps to text, the rest conflicts', () => {
  assert.deepEqual(coerce({ value: 2, type: 'bigint' }, 'double'), { ok: true, value: 2 });
  assert.deepEqual(coerce({ value: new Date('2026-01-01T00:00:00Z'), type: 'timestamp' }, 'varchar'), { ok: true, value: '2026-01-01T00:00:00.000Z' });
  assert.equal(coerce({ value: 2.5, type: 'double' }, 'bigint').ok, false);
  assert.equal(coerce({ value: 'x', type: 'varchar' }, 'boolean').ok, false);
});
