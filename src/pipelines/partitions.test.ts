import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fullPartition, lastCompletePartition, overlaps, partitionOf, partitionsBetween, WHOLE } from './partitions.js';

const d = (iso: string) => new Date(iso);

describe('partitions', () => {
  it('cuts time into UTC days and hours', () => {
    assert.deepEqual(partitionOf('daily', d('2026-01-02T23:59:59.999Z')), { key: '2026-01-02', start: d('2026-01-02T00:00:00Z'), end: d('2026-01-03T00:00:00Z') });
    assert.deepEqual(partitionOf('hourly', d('2026-01-02T10:00:00Z')), { key: '2026-01-02T10', start: d('2026-01-02T10:00:00Z'), end: d('2026-01-02T11:00:00Z') });
    assert.equal(partitionOf('none', d('2026-01-02T10:00:00Z')), WHOLE);
  });

  it('the last complete partition ends at or before the time', () => {
    assert.equal(lastCompletePartition('daily', d('2026-01-03T00:00:00Z')).key, '2026-01-02');
    assert.equal(lastCompletePartition('daily', d('2026-01-03T08:00:00Z')).key, '2026-01-02');
    assert.equal(lastCompletePartition('hourly', d('2026-01-03T08:15:00Z')).key, '2026-01-03T07');
  });

  it('lists partitions between two times, both ends included', () => {
    assert.deepEqual(partitionsBetween('daily', d('2026-01-30T12:00:00Z'), d('2026-02-02T00:00:00Z')).map((p) => p.key), ['2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02']);
    assert.deepEqual(partitionsBetween('hourly', d('2026-01-01T22:00:00Z'), d('2026-01-02T01:30:00Z')).map((p) => p.key), ['2026-01-01T22', '2026-01-01T23', '2026-01-02T00', '2026-01-02T01']);
    assert.equal(partitionsBetween('hourly', d('2026-01-01T00:00:00Z'), d('2026-12-31T00:00:00Z'), 10).length, 10);
  });

  it('windows overlap when they share an instant; no window overlaps everything', () => {
    const day = partitionOf('daily', d('2026-01-02T00:00:00Z'));
    assert.equal(overlaps(day, partitionOf('hourly', d('2026-01-02T23:00:00Z'))), true);
    assert.equal(overlaps(day, partitionOf('hourly', d('2026-01-03T00:00:00Z'))), false, 'half-open: the next day starts where this one ends');
    assert.equal(overlaps(day, WHOLE), true);
    assert.equal(overlaps(fullPartition('daily', d('2026-01-05T10:00:00Z')), day), true);
    assert.equal(fullPartition('daily', d('2026-01-05T10:00:00Z')).end?.toISOString(), '2026-01-06T00:00:00.000Z');
  });
});
