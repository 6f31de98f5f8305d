import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../errors/catalogue.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';
import type { StateStore, Workspace } from '../state/state-store.js';
import { MAX_RETRY_AFTER_SECONDS, MonthlyQuota, utcMonth } from './quota.js';

function refusal(fn: () => unknown): WeirError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WeirError);
    return err;
  }
  assert.fail('expected WEIR_QUOTA_EXCEEDED');
}

describe('MonthlyQuota', () => {
  let state: StateStore;
  let metered: Workspace;
  let free: Workspace;
  let now: number;
  let quota: MonthlyQuota;

  /** Usage as the meter would add it, in the hour of `at`. */
  const meter = (accepted: number, at = now) =>
    state.addUsage(
      [{ sourceId: 'src_m', workspaceId: metered.id, hour: new Date(Math.floor(at / 3_600_000) * 3_600_000), accepted, failed: 0, bytes: 0 }],
      'test',
      new Map(),
    );

  beforeEach(async () => {
    state = await openSqliteStateStore({ file: ':memory:' });
    free = (await state.bootstrap()).workspace;
    metered = await state.createWorkspace('metered');
    await state.updateWorkspaceSettings(metered.id, { monthlyEventQuota: 10 });
    now = Date.parse('2026-03-15T12:00:00Z');
    quota = new MonthlyQuota(state, { refreshMs: 60_000, now: () => now });
    await quota.refresh();
  });
  afterEach(async () => {
    quota.stop();
    await state.close();
  });

  it('refuses a workspace once it reached its quota, with a code and Retry-After; others are unaffected', () => {
    quota.record(metered.id, 9);
    assert.equal(quota.check(metered.id), undefined);
    quota.record(metered.id, 1);
    const err = refusal(() => quota.check(metered.id));
    assert.equal(err.code, 'WEIR_QUOTA_EXCEEDED');
    assert.equal(err.status, 429);
    assert.match(err.message, /workspace metered .* quota of 10 events/);
    assert.equal(err.params.retryAfter, MAX_RETRY_AFTER_SECONDS);
    quota.record(free.id, 1_000_000);
    assert.equal(quota.check(free.id), undefined);
    assert.equal(quota.check('ws_unknown'), undefined);
  });

  it('keeps what this process accepted while the meter lags, and takes the meter when it is ahead', async () => {
    quota.record(metered.id, 10);
    await meter(4);
    await quota.refresh();
    assert.throws(() => quota.check(metered.id), { code: 'WEIR_QUOTA_EXCEEDED' });

    // Another collector's events reach this one only through the meter.
    await state.updateWorkspaceSettings(metered.id, { monthlyEventQuota: 20 });
    await quota.refresh();
    assert.equal(quota.check(metered.id), undefined);
    await meter(16);
    await quota.refresh();
    assert.throws(() => quota.check(metered.id), { code: 'WEIR_QUOTA_EXCEEDED' });
  });

  it('counts only the current UTC month', async () => {
    await meter(50, Date.parse('2026-02-28T23:00:00Z'));
    await quota.refresh();
    assert.equal(quota.check(metered.id), undefined);
    await meter(10, Date.parse('2026-03-01T00:00:00Z'));
    await quota.refresh();
    assert.throws(() => quota.check(metered.id), { code: 'WEIR_QUOTA_EXCEEDED' });
  });

  it('says how long until the month ends, and accepts once it has ended', async () => {
    now = Date.parse('2026-03-31T23:59:30.500Z');
    quota.record(metered.id, 10);
    assert.equal(refusal(() => quota.check(metered.id)).params.retryAfter, 30);
    now = Date.parse('2026-04-01T00:00:00Z');
    assert.equal(quota.check(metered.id), undefined, 'a new month, before any refresh');
    await quota.refresh();
    assert.equal(quota.check(metered.id), undefined, 'last month does not count');
    quota.record(metered.id, 10);
    assert.throws(() => quota.check(metered.id), { code: 'WEIR_QUOTA_EXCEEDED' });
  });

  it('flags instead of refusing in flag mode, and forgets a quota that was removed', async () => {
    await state.updateWorkspaceSettings(metered.id, { quotaMode: 'flag' });
    await quota.refresh();
    quota.record(metered.id, 10);
    assert.deepEqual(quota.check(metered.id), { overQuota: true });
    await state.updateWorkspaceSettings(metered.id, { monthlyEventQuota: null });
    await quota.refresh();
    assert.equal(quota.check(metered.id), undefined);
  });

  it('a quota of 0 refuses from the first event', async () => {
    await state.updateWorkspaceSettings(metered.id, { monthlyEventQuota: 0 });
    await quota.refresh();
    assert.throws(() => quota.check(metered.id), { code: 'WEIR_QUOTA_EXCEEDED' });
  });
});

describe('utcMonth', () => {
  it('spans the calendar month in UTC, across years', () => {
    assert.deepEqual(utcMonth(Date.parse('2026-12-31T23:59:59.999Z')), {
      start: Date.parse('2026-12-01T00:00:00Z'),
      end: Date.parse('2027-01-01T00:00:00Z'),
    });
  });
});
