import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAcceptedRecord, encodeFailedRecord } from '../events/log-record.js';
import { openFileEventLog } from '../log/file/index.js';
import { WeirError } from '../errors/catalogue.js';
import { createLogger } from '../observability/logger.js';
import { decodeHits, REALTIME_GROUP, REALTIME_HORIZON_MS, runRealtimeAggregator, toHit } from './aggregator.js';
import { createMemoryRealtimeStore } from './memory/index.js';
import type { RealtimeStore } from './realtime-store.js';

const AT = '2026-03-02T09:00:00.000Z';
const T = Date.parse(AT);

/** A tracker event as the collector stores it. */
function trackerEvent(over: Record<string, unknown> = {}, props: Record<string, unknown> = {}, ctx: Record<string, unknown> = {}) {
  return {
    type: 'track',
    event: 'Page Ping',
    messageId: 'm1',
    anonymousId: 'a1',
    receivedAt: AT,
    properties: { page_view_id: 'pv1', engaged_seconds: 15, total_engaged_seconds: 30, max_scroll_depth: 64, ...props },
    context: {
      page: { path: '/story', url: 'https://news.example/story?x=1', title: 'A story', referrer: 'https://www.google.com/' },
      referrer: { type: 'search', name: 'Google' },
      returning: true,
      ...ctx,
    },
    ...over,
  };
}

describe('toHit', () => {
  it('reads a ping: page view, engaged seconds, scroll depth, referrer class, returning; the tail keeps the event', () => {
    const e = trackerEvent();
    assert.deepEqual(toHit('s1', e), {
      sourceId: 's1',
      at: T,
      visitorId: 'a1',
      kind: 'ping',
      engagedSeconds: 15,
      pageViewId: 'pv1',
      path: '/story',
      title: 'A story',
      url: 'https://news.example/story?x=1',
      referrer: 'search',
      returning: true,
      totalEngagedSeconds: 30,
      scrollDepth: 64,
      tail: {
        messageId: 'm1',
        type: 'track',
        event: 'Page Ping',
        name: null,
        receivedAt: AT,
        anonymousId: 'a1',
        userId: null,
        properties: e.properties,
        context: e.context,
      },
    });
  });

  it('tells page views, leaves, bots and other events apart', () => {
    assert.equal(toHit('s', trackerEvent({ type: 'page', event: undefined, name: 'Home' }))?.kind, 'page');
    assert.equal(toHit('s', trackerEvent({}, { page_leave: true }))?.kind, 'leave');
    assert.equal(toHit('s', trackerEvent({}, {}, { bot: true }))?.kind, 'other');
    const other = toHit('s', trackerEvent({ event: 'Signed Up' }));
    assert.equal(other?.kind, 'other');
    assert.equal(other?.engagedSeconds, 0);
    assert.equal(other?.path, undefined);
  });

  it('reads attacker-shaped fields defensively: clamps numbers, cuts long text, maps unknown referrer types to other', () => {
    const hit = toHit(
      's',
      trackerEvent({ anonymousId: undefined, userId: 'u9' }, { engaged_seconds: 1e9, max_scroll_depth: -5, total_engaged_seconds: 'x' }, {
        page: { url: `https://news.example/${'p'.repeat(1000)}`, title: 'T'.repeat(1000) },
        referrer: { type: '<script>' },
        returning: 'yes',
      }),
    )!;
    assert.equal(hit.visitorId, 'u9');
    assert.equal(hit.engagedSeconds, 3600);
    assert.equal(hit.scrollDepth, 0);
    assert.equal(hit.totalEngagedSeconds, undefined);
    assert.equal(hit.path!.length, 300);
    assert.equal(hit.title!.length, 300);
    assert.equal(hit.referrer, 'other');
    assert.equal(hit.returning, undefined);
    // Email is a referrer type of the enrichment, and "other" on the dashboard.
    assert.equal(toHit('s', trackerEvent({}, {}, { referrer: { type: 'email' } }))!.referrer, 'other');
    assert.equal(toHit('s', trackerEvent({ receivedAt: 'never' })), undefined);
    assert.equal(toHit('s', trackerEvent({ anonymousId: undefined })), undefined);
  });

  it('a bare page call has its page in properties', () => {
    const hit = toHit('s', { type: 'page', anonymousId: 'a', receivedAt: AT, messageId: 'm', properties: { url: 'https://x.example/a/b?q' } })!;
    assert.equal(hit.path, '/a/b');
    assert.equal(hit.referrer, undefined);
  });
});

describe('decodeHits', () => {
  it('skips failed-event records, unreadable records and events received before the horizon', () => {
    const records = [
      encodeAcceptedRecord('s', trackerEvent()),
      encodeAcceptedRecord('s', trackerEvent({ receivedAt: new Date(T - 1).toISOString() })),
      encodeFailedRecord({ sourceId: 's', reason: 'WEIR_EVENT_MISSING_TYPE', message: 'x', messageId: null, receivedAt: AT, payload: {} }),
      Buffer.from('{not json'),
    ].map((value, offset) => ({ partition: 0, offset, value }));
    const { hits, skipped } = decodeHits(records, T);
    assert.equal(hits.length, 1);
    assert.equal(skipped, 3);
  });

  it('classifies the referrer of a record whose descriptive enrichment was deferred to the reader', () => {
    const event = trackerEvent({ type: 'page', context: { page: { path: '/a', url: 'https://news.example/a', referrer: 'https://www.google.com/' } } });
    const deferred = [{ partition: 0, offset: 0, value: encodeAcceptedRecord('s', event, undefined, ['referrer']) }];
    assert.equal(decodeHits(deferred, T).hits[0]?.referrer, 'search');
    // Without the step listed, nothing classifies it: the reader must run the deferred steps.
    const plain = [{ partition: 0, offset: 0, value: encodeAcceptedRecord('s', event) }];
    assert.notEqual(decodeHits(plain, T).hits[0]?.referrer, 'search');
  });
});

describe('runRealtimeAggregator', () => {
  it('feeds the store from the log from the first record of the last 30 minutes; a memory store is refilled on restart, a persistent one resumes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-realtime-agg-'));
    const log = await openFileEventLog({ dir });
    const logger = createLogger('silent');
    try {
      const now = T + REALTIME_HORIZON_MS + 60_000;
      const writer = await log.openWriter(0);
      const old = (i: number) => encodeAcceptedRecord('s', trackerEvent({ messageId: `old${i}`, anonymousId: `old${i}`, type: 'page' }));
      const fresh = (i: number, sec: number) =>
        encodeAcceptedRecord('s', trackerEvent({ messageId: `new${i}`, anonymousId: `v${i}`, type: 'page', receivedAt: new Date(now - sec * 1000).toISOString() }));
      // Days of history before the last 30 minutes: found by a binary search, not read through.
      const history = Array.from({ length: 3000 }, (_, i) => old(i));
      for (let i = 0; i < history.length; i += 1000) await writer.append(history.slice(i, i + 1000));
      // A record received just inside the horizon after one just outside it.
      const edge = (id: string, ms: number) =>
        encodeAcceptedRecord('s', trackerEvent({ messageId: id, anonymousId: id, type: 'page', receivedAt: new Date(now - REALTIME_HORIZON_MS + ms).toISOString() }));
      await writer.append([edge('outside', -1), edge('inside', 1), fresh(1, 5), fresh(2, 3)]);

      const run = async (until: (store: RealtimeStore) => Promise<boolean>, persistent = false) => {
        // A persistent store (Redis) keeps its state: the same memory store, flagged so.
        const store: RealtimeStore = { ...createMemoryRealtimeStore(), persistent };
        const stop = new AbortController();
        const batches: Array<{ hits: number; skipped: number }> = [];
        const done = runRealtimeAggregator({ log, store, logger, signal: stop.signal, now: () => now, commitMs: 0, onBatch: (b) => batches.push(b) });
        const deadline = Date.now() + 5000;
        while (!(await until(store))) {
          assert.ok(Date.now() < deadline, 'the aggregator did not catch up in 5 s');
          await new Promise((r) => setTimeout(r, 10));
        }
        stop.abort();
        await done;
        return { store, batches };
      };
      const first = await run(async (s) => (await s.tail('s')).events.length === 3);
      assert.deepEqual((await first.store.tail('s')).events.map((e) => e.messageId), ['inside', 'new1', 'new2']);
      assert.deepEqual((await first.store.snapshot('s', now)).visitors, { total: 2, engaged: 2, idle: 0 });
      assert.equal(first.batches.reduce((sum, b) => sum + b.skipped, 0), 0, 'no old record was read');
      assert.equal((await log.groups()).get(REALTIME_GROUP)?.get(0), 3004);

      // A restart with an empty (memory) store refills it with the last 30 minutes.
      await writer.append([fresh(3, 1)]);
      const second = await run(async (s) => (await s.tail('s')).events.length === 4);
      assert.deepEqual((await second.store.tail('s')).events.map((e) => e.messageId), ['inside', 'new1', 'new2', 'new3']);
      // A persistent store reads on from the committed offset: only what came after.
      await writer.append([fresh(4, 1)]);
      const third = await run(async (s) => (await s.tail('s')).events.length === 1, true);
      assert.deepEqual((await third.store.tail('s')).events.map((e) => e.messageId), ['new4']);
      await writer.close();
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runRealtimeAggregator commits', () => {
  it('commits what it read once idle, so the log does not count it as unread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-realtime-idle-'));
    const log = await openFileEventLog({ dir });
    const stop = new AbortController();
    try {
      const writer = await log.openWriter(0);
      await writer.append([encodeAcceptedRecord('s', trackerEvent({ receivedAt: new Date().toISOString() }))]);
      // A commit interval longer than the test: only the idle commit can move the group.
      const done = runRealtimeAggregator({ log, store: createMemoryRealtimeStore(), logger: createLogger('silent'), signal: stop.signal, commitMs: 3_600_000 });
      const deadline = Date.now() + 8000;
      while ((await log.groups()).get(REALTIME_GROUP)?.get(0) !== 1) {
        assert.ok(Date.now() < deadline, 'the realtime group was not committed while idle');
        await new Promise((r) => setTimeout(r, 50));
      }
      stop.abort();
      await done;
    } finally {
      stop.abort();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runRealtimeAggregator and an unreachable store', () => {
  it('retries a batch the store refused as unavailable, and records it once when the store is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-realtime-retry-'));
    const log = await openFileEventLog({ dir });
    const stop = new AbortController();
    try {
      const writer = await log.openWriter(0);
      const receivedAt = new Date().toISOString();
      await writer.append(['e1', 'e2'].map((messageId) => encodeAcceptedRecord('s', trackerEvent({ messageId, receivedAt }))));
      const memory = createMemoryRealtimeStore();
      let refusals = 0;
      const store: RealtimeStore = {
        ...memory,
        async record(hits) {
          if (refusals++ < 2) throw new WeirError('WEIR_LIVE_STORE_UNAVAILABLE', { store: 'redis', url: 'redis://127.0.0.1:6379', detail: 'down' });
          return memory.record(hits);
        },
      };
      const done = runRealtimeAggregator({ log, store, logger: createLogger('silent'), signal: stop.signal });
      const deadline = Date.now() + 8000;
      while ((await memory.tail('s')).events.length === 0) {
        assert.ok(Date.now() < deadline, 'the batch was not recorded after the store came back');
        await new Promise((r) => setTimeout(r, 20));
      }
      stop.abort();
      await done;
      assert.equal(refusals, 3);
      assert.deepEqual((await memory.tail('s')).events.map((e) => e.messageId), ['e1', 'e2']);
    } finally {
      stop.abort();
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
