import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverError } from './clickhouse-errors.js';
import { columnDefinition, ident, inLists, literal, weirType } from './clickhouse-sql.js';
import { dateTimeToIso, decodeResult, encodeCell } from './clickhouse-values.js';

test('cells are encoded for JSONEachRow: whole UTC seconds, booleans as 1/0', () => {
  assert.equal(encodeCell(new Date('2026-11-22T10:11:12.999Z'), 'timestamp'), '2026-11-22 10:11:12');
  assert.equal(encodeCell('2026-11-22T10:11:12Z', 'timestamp'), '2026-11-22 10:11:12');
  assert.throws(() => encodeCell(new Date('1960-01-01T00:00:00Z'), 'timestamp'), /outside ClickHouse DateTime's range/);
  assert.equal(encodeCell(true, 'boolean'), 1);
  assert.equal(encodeCell(false, 'boolean'), 0);
  assert.equal(encodeCell(null, 'varchar'), null);
  assert.equal(encodeCell(9007199254740991, 'bigint'), 9007199254740991);
});

test('results decode 64-bit integers, DateTimes in any zone and Weir booleans', () => {
  const r = decodeResult(
    [
      { name: 'n', type: 'UInt64' },
      { name: 'huge', type: 'Int64' },
      { name: 't', type: "Nullable(DateTime('UTC'))" },
      { name: 'local', type: 'DateTime' },
      { name: 'ok', type: 'Nullable(UInt8)' },
      { name: 'cmp', type: 'UInt8' },
    ],
    [['5', '9223372036854775807', '2026-11-22 10:11:12', '2026-07-01 12:00:00', 1, 1], ['0', '-1', null, '0000-00-00 00:00:00', 0, 0]],
    new Set(['ok']),
    'America/New_York',
  );
  assert.deepEqual(r.rows, [
    [5, '9223372036854775807', '2026-11-22T10:11:12.000Z', '2026-07-01T16:00:00.000Z', true, 1],
    [0, -1, null, '1970-01-01T00:00:00.000Z', false, 0],
  ]);
  assert.equal(r.columns[4]?.type, 'Nullable(Bool)');
  assert.equal(dateTimeToIso('2026-01-15 12:00:00', 'Europe/Paris'), '2026-01-15T11:00:00.000Z');
});

test('server errors are read from 18.16 and newer messages, first line only', () => {
  assert.deepEqual(serverError(new Error("Code: 60, e.displayText() = DB::Exception: Table a.b doesn't exist., e.what() = DB::Exception\n")), {
    code: 60,
    message: "Table a.b doesn't exist.",
  });
  assert.deepEqual(serverError(new Error('Code: 164. DB::Exception: Cannot drop table in readonly mode. (READONLY) (version 23.8.1.1)\nStack trace:')), {
    code: 164,
    message: 'Cannot drop table in readonly mode.',
  });
  assert.equal(serverError(new Error('connect ECONNREFUSED 127.0.0.1:8123')), undefined);
});

test('identifiers, literals, types and IN lists', () => {
  assert.equal(ident('a`b\\c'), '`a\\`b\\\\c`');
  assert.equal(literal("it's"), "'it\\'s'");
  assert.equal(columnDefinition('ok', 'boolean', false), "`ok` Nullable(UInt8) COMMENT 'weir:boolean'");
  assert.equal(columnDefinition('id', 'varchar', true), '`id` String');
  assert.equal(weirType('Nullable(UInt8)', 'weir:boolean'), 'boolean');
  assert.equal(weirType('UInt8', ''), 'bigint');
  assert.equal(weirType("Nullable(DateTime('UTC'))", ''), 'timestamp');
  assert.equal(weirType('LowCardinality(Nullable(String))', ''), 'varchar');
  const keys = Array.from({ length: 20_000 }, (_, i) => `message-${i}-${'x'.repeat(20)}`);
  const lists = inLists(keys);
  assert.ok(lists.length > 1);
  assert.ok(lists.every((l) => Buffer.byteLength(l) <= 128 * 1024));
  assert.equal(lists.join(', ').split(', ').length, keys.length);
});
