import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from './iso-time.js';

test('isoTime writes what toISOString writes', () => {
  const times = [
    0,
    1,
    999,
    86_399_999,
    86_400_000,
    Date.UTC(2024, 1, 29, 23, 59, 59, 999),
    Date.UTC(2026, 10, 22, 10, 0, 1, 37),
    Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    // Outside the fast path: before 1970, from year 10000 on, fractions of a millisecond.
    -1,
    Date.UTC(1969, 11, 31, 12),
    Date.UTC(10000, 0, 1),
    1.5,
  ];
  let seed = 7;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 48271) % 2147483647;
    times.push(Math.floor((seed / 2147483647) * 4_102_444_800_000));
  }
  // Days visited out of order, so the cached date part is replaced back and forth.
  for (const ms of [...times, ...times.reverse()]) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  assert.throws(() => isoTime(NaN), RangeError);
});

test('isoTime keeps two days apart when calls alternate between them, and a third replaces the older', () => {
  const days = [Date.UTC(2026, 10, 22, 10), Date.UTC(2026, 10, 23, 1), Date.UTC(2026, 10, 24, 23, 59, 59, 999)];
  for (let i = 0; i < 300; i++) {
    // 0,1,0,1,… then 2 joins: every pattern of hits in slot A, slot B and misses.
    const ms = days[i < 100 ? i % 2 : i % 3]! + i * 1_001;
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
});
