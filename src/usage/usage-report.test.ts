import { test } from 'node:test';
import assert from 'node:assert/strict';
import { periodOf, rollUp } from './usage-report.js';

const row = (sourceId: string, hour: string, accepted: number, failed = 0, bytes = accepted * 100) => ({
  sourceId,
  workspaceId: 'ws_1',
  hour: new Date(hour),
  accepted,
  failed,
  bytes,
});

test('periods are UTC hours, days and months', () => {
  const h = new Date('2026-01-31T23:00:00Z');
  assert.deepEqual(
    (['hour', 'day', 'month'] as const).map((by) => periodOf(h, by)),
    ['2026-01-31T23:00:00.000Z', '2026-01-31', '2026-01'],
  );
});

test('rollUp sums per period and source, ordered, with source names', () => {
  const rows = [
    row('src_b', '2026-01-31T23:00:00Z', 1, 1, 10),
    row('src_a', '2026-01-31T22:00:00Z', 2),
    row('src_a', '2026-01-31T23:00:00Z', 3, 2),
    row('src_a', '2026-02-01T00:00:00Z', 4),
  ];
  const names = new Map([['src_a', 'web']]);
  assert.deepEqual(
    rollUp(rows, 'day', names).map((r) => [r.period, r.source, r.accepted, r.failed, r.bytes]),
    [
      ['2026-01-31', 'web', 5, 2, 500],
      ['2026-01-31', 'src_b', 1, 1, 10],
      ['2026-02-01', 'web', 4, 0, 400],
    ],
  );
  assert.deepEqual(
    rollUp(rows, 'month').map((r) => [r.period, r.sourceId, r.accepted]),
    [
      ['2026-01', 'src_a', 5],
      ['2026-01', 'src_b', 1],
      ['2026-02', 'src_a', 4],
    ],
  );
  assert.equal(rollUp(rows, 'hour').length, 4);
  assert.deepEqual(rollUp([], 'hour'), []);
});
