import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { decodeLogRecord } from '../events/log-record.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';
import type { NewFailedEvent, Source, StateStore } from '../state/state-store.js';
import { replayFailedEvents, replayMessageId, type ReplayDeps } from './replay-failed.js';

const limits = { maxDepth: 8, maxProperties: 100, maxEventBytes: 1024, maxBatchItems: 10 };
const receivedAt = new Date('2026-01-02T03:04:05.678Z');

describe('replayFailedEvents', () => {
  let state: StateStore;
  let source: Source;
  let appended: Buffer[][];
  let deps: ReplayDeps;
  let offset = 0;

  const failed = (payload: unknown, reason = 'WEIR_EVENT_BOT', extra: Partial<NewFailedEvent> = {}): NewFailedEvent => ({
    sourceId: source.id,
    reason,
    message: 'refused earlier',
    messageId: null,
    payload: JSON.stringify(payload),
    receivedAt,
    partition: 1,
    offset: offset++,
    ...extra,
  });
  const events = (batch: Buffer[] | undefined): Array<Record<string, unknown>> =>
    (batch ?? []).map((r) => {
      const d = decodeLogRecord(r);
      assert.equal(d.kind, 'event');
      return d.kind === 'event' ? { sourceId: d.sourceId, ...d.event } : {};
    });

  beforeEach(async () => {
    state = await openSqliteStateStore({ file: ':memory:' });
    source = (await state.bootstrap()).source;
    appended = [];
    deps = { state, limits, append: async (records) => appended.push(records), now: () => new Date('2026-02-01T00:00:00Z') };
    await state.insertFailedEvents([
      failed({ type: 'track', event: 'Kept', userId: 'u1', messageId: 'keep-1', context: { userAgent: 'Googlebot' } }),
      failed({ type: 'page', anonymousId: 'a1', name: 'Home' }),
      failed({ type: 'track', userId: 'u2' }, 'WEIR_EVENT_MISSING_EVENT_NAME'),
      failed({ type: 'track', event: 'Price', userId: 'u3', properties: { price: null } }, 'WEIR_EVENT_NON_FINITE_NUMBER'),
      failed({ type: 'track', event: 'Big', userId: 'u4', properties: { blob: 'x'.repeat(2000) } }),
    ]);
  });
  afterEach(async () => {
    await state.close();
  });

  it('appends what passes now, keeping receivedAt and messageId, and counts what still fails by reason', async () => {
    const s = await replayFailedEvents(deps);
    assert.deepEqual(s, {
      examined: 5,
      valid: 2,
      stillFailing: { WEIR_EVENT_MISSING_EVENT_NAME: 1, WEIR_EVENT_NON_FINITE_NUMBER: 1, WEIR_INGEST_EVENT_TOO_LARGE: 1 },
      nextAfterId: null,
      dryRun: false,
    });
    assert.equal(appended.length, 1);
    const [kept, page] = events(appended[0]);
    assert.equal(kept?.messageId, 'keep-1');
    assert.equal(kept?.receivedAt, receivedAt.toISOString());
    assert.equal(kept?.timestamp, receivedAt.toISOString());
    assert.equal(kept?.sourceId, source.id);
    assert.deepEqual(kept?.context, { userAgent: 'Googlebot' });
    const pageFailed = (await state.listFailedEvents({ afterId: 0 }))[1]!;
    assert.equal(page?.messageId, replayMessageId(pageFailed), 'derived from the failed record');
    assert.match(String(page?.messageId), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const replayed = await state.listFailedEvents({ replayed: true });
    assert.deepEqual(replayed.map((f) => f.replayedAt?.toISOString()), ['2026-02-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z']);
  });

  it('skips what was replayed unless asked again, and then appends the same messageIds', async () => {
    await replayFailedEvents(deps);
    const second = await replayFailedEvents(deps);
    assert.equal(second.examined, 3);
    assert.equal(second.valid, 0);
    assert.equal(appended.length, 1, 'nothing appended twice');

    const again = await replayFailedEvents(deps, { again: true });
    assert.equal(again.valid, 2);
    assert.deepEqual(events(appended[1]).map((e) => e.messageId), events(appended[0]).map((e) => e.messageId));
  });

  it('a dry run appends and marks nothing', async () => {
    const s = await replayFailedEvents(deps, { dryRun: true });
    assert.equal(s.valid, 2);
    assert.equal(s.dryRun, true);
    assert.equal(appended.length, 0);
    assert.equal((await state.listFailedEvents({ replayed: true })).length, 0);
  });

  it('filters by reason and source, and pages through large sets', async () => {
    assert.equal((await replayFailedEvents(deps, { reason: 'WEIR_EVENT_MISSING_EVENT_NAME', dryRun: true })).examined, 1);
    assert.equal((await replayFailedEvents(deps, { sourceId: 'src_other', dryRun: true })).examined, 0);

    await state.insertFailedEvents(Array.from({ length: 1100 }, (_, i) => failed({ type: 'track', event: 'Bulk', userId: `u${i}` })));
    const progress: number[] = [];
    const first = await replayFailedEvents(deps, { limit: 700, onProgress: (p) => progress.push(p.examined) });
    assert.equal(first.examined, 700);
    assert.deepEqual(progress, [500, 700]);
    const rest = await replayFailedEvents(deps, { afterId: first.nextAfterId! });
    assert.equal(rest.examined, 405);
    assert.equal(rest.nextAfterId, null);
    const bulk = appended.flatMap((batch) => events(batch)).filter((e) => e.event === 'Bulk');
    assert.equal(bulk.length, 1100);
    assert.equal(new Set(bulk.map((e) => e.messageId)).size, 1100);
  });
});
