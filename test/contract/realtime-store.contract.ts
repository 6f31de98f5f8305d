/**
 * The RealtimeStore contract: every adapter (memory, Redis) runs these cases. Time is passed in,
 * so every case is exact.
 *
 * @example
 * ```ts
 * realtimeStoreContract('memory', async (windows) => ({ store: createMemoryRealtimeStore(windows), cleanup: async () => {} }));
 * ```
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LiveHit, RealtimeStore, RealtimeWindows } from '../../src/realtime/realtime-store.js';

export interface RealtimeStoreFixture {
  /** A store with no data, sized by `windows` (defaults for what is left out). */
  store: RealtimeStore;
  /**
   * Another store on the same state, as another process would open it (same windows); absent
   * when the state lives in one process (memory).
   */
  openAnother?(): Promise<RealtimeStore>;
  cleanup(): Promise<void>;
}

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
const S = 'src_live';

let n = 0;
/** A hit of source S at T0 + `sec` seconds. */
function hit(sec: number, visitorId: string, kind: LiveHit['kind'], extra: Partial<LiveHit> = {}): LiveHit {
  const at = T0 + sec * 1000;
  const messageId = `m${++n}`;
  return {
    sourceId: S,
    at,
    visitorId,
    kind,
    engagedSeconds: 0,
    tail: {
      messageId,
      type: kind === 'page' ? 'page' : 'track',
      event: null,
      name: null,
      receivedAt: new Date(at).toISOString(),
      anonymousId: visitorId,
      userId: null,
      properties: null,
      context: null,
    },
    ...extra,
  };
}
const view = (sec: number, v: string, path: string, extra: Partial<LiveHit> = {}) =>
  hit(sec, v, 'page', { path, title: `Title of ${path}`, url: `https://news.example${path}`, pageViewId: `${v}${path}`, ...extra });
const ping = (sec: number, v: string, path: string, engaged: number, extra: Partial<LiveHit> = {}) =>
  hit(sec, v, 'ping', { path, pageViewId: `${v}${path}`, engagedSeconds: engaged, ...extra });

export function realtimeStoreContract(name: string, open: (windows: Partial<RealtimeWindows>) => Promise<RealtimeStoreFixture>): void {
  describe(`RealtimeStore contract: ${name}`, () => {
    const withStore = async (windows: Partial<RealtimeWindows>, fn: (store: RealtimeStore, fx: RealtimeStoreFixture) => Promise<void>) => {
      const fx = await open(windows);
      try {
        await fn(fx.store, fx);
      } finally {
        await fx.cleanup();
      }
    };
    const at = (sec: number) => T0 + sec * 1000;

    it('a page view makes a visitor current and engaged, idle after the engaged window, gone after the visitor window', () =>
      withStore({ visitorWindowMs: 30_000, engagedWindowMs: 15_000 }, async (store) => {
        await store.record([view(0, 'v1', '/a')]);
        assert.deepEqual((await store.snapshot(S, at(1))).visitors, { total: 1, engaged: 1, idle: 0 });
        assert.deepEqual((await store.snapshot(S, at(15))).visitors, { total: 1, engaged: 1, idle: 0 });
        assert.deepEqual((await store.snapshot(S, at(16))).visitors, { total: 1, engaged: 0, idle: 1 });
        assert.deepEqual((await store.snapshot(S, at(30))).visitors, { total: 1, engaged: 0, idle: 1 });
        assert.deepEqual((await store.snapshot(S, at(31))).visitors, { total: 0, engaged: 0, idle: 0 });
      }));

    it('pings with engaged seconds keep a visitor engaged; a ping without them keeps them current but idle', () =>
      withStore({ visitorWindowMs: 30_000, engagedWindowMs: 15_000 }, async (store) => {
        await store.record([view(0, 'v1', '/a'), view(0, 'v2', '/a'), ping(15, 'v1', '/a', 15), ping(15, 'v2', '/a', 0)]);
        const s = await store.snapshot(S, at(25));
        assert.deepEqual(s.visitors, { total: 2, engaged: 1, idle: 1 });
        assert.deepEqual(s.pages.map((p) => [p.path, p.visitors, p.engaged]), [['/a', 2, 1]]);
        assert.equal((await store.snapshot(S, at(45))).visitors.total, 2);
        assert.equal((await store.snapshot(S, at(46))).visitors.total, 0);
      }));

    it('a leave drops the visitor at once, but not a late leave of a page view they already left', () =>
      withStore({}, async (store) => {
        await store.record([view(0, 'v1', '/a'), view(0, 'v2', '/a')]);
        await store.record([hit(5, 'v1', 'leave', { pageViewId: 'v1/a', path: '/a', engagedSeconds: 5 })]);
        assert.equal((await store.snapshot(S, at(6))).visitors.total, 1);
        // v2 moved on to /b; the leave of /a arrives after the page view of /b.
        await store.record([view(7, 'v2', '/b'), hit(6, 'v2', 'leave', { pageViewId: 'v2/a', path: '/a' })]);
        const s = await store.snapshot(S, at(8));
        assert.deepEqual(s.visitors, { total: 1, engaged: 1, idle: 0 });
        assert.deepEqual(s.pages.map((p) => p.path), ['/b']);
        // The leave's engaged seconds still count in its minute.
        assert.equal(s.minutes.at(-1)!.engagedSeconds, 5);
      }));

    it('counts each visitor on the page of their newest hit; a late ping of an earlier page does not move them back', () =>
      withStore({ topPages: 2 }, async (store) => {
        await store.record([
          view(0, 'v1', '/a'),
          view(0, 'v2', '/a'),
          view(0, 'v3', '/b'),
          view(1, 'v4', '/c'),
          view(2, 'v1', '/b'),
          view(2.5, 'v5', '/b', { title: 'Newest title of /b' }),
          ping(1, 'v1', '/a', 1),
        ]);
        const s = await store.snapshot(S, at(3));
        assert.equal(s.visitors.total, 5);
        assert.deepEqual(
          s.pages.map((p) => [p.path, p.visitors]),
          [
            ['/b', 3],
            ['/a', 1],
          ],
        );
        assert.equal(s.pages[0]!.title, 'Newest title of /b');
        assert.equal(s.pages[0]!.url, 'https://news.example/b');
      }));

    it('breaks current visitors down by referrer class, new or returning, engaged time and scroll depth', () =>
      withStore({}, async (store) => {
        await store.record([
          view(0, 'v1', '/a', { referrer: 'search', returning: false }),
          view(0, 'v2', '/a', { referrer: 'social', returning: true }),
          view(0, 'v3', '/a', { referrer: 'search' }),
          view(0, 'v4', '/b', { referrer: 'internal', returning: true }),
          ping(15, 'v1', '/a', 15, { totalEngagedSeconds: 15, scrollDepth: 80 }),
          ping(15, 'v2', '/a', 10, { totalEngagedSeconds: 10, scrollDepth: 30 }),
          ping(15, 'v4', '/b', 9, { totalEngagedSeconds: 9, scrollDepth: 50 }),
          // Scroll depth and engaged time are the page view's maximum, whatever order pings come in.
          ping(16, 'v4', '/b', 0, { totalEngagedSeconds: 3, scrollDepth: 20 }),
        ]);
        const s = await store.snapshot(S, at(17));
        assert.deepEqual(s.referrers, { search: 2, social: 1, internal: 1, direct: 0, other: 0 });
        assert.deepEqual(s.audience, { new: 1, returning: 2, unknown: 1 });
        assert.equal(s.averageEngagedSeconds, 8.5);
        assert.deepEqual(s.scrollDepth, [1, 1, 1, 1]);
        // A new page view starts its own engaged time and depth.
        await store.record([view(20, 'v1', '/c', { referrer: 'internal' })]);
        const s2 = await store.snapshot(S, at(21));
        assert.deepEqual(s2.scrollDepth, [2, 1, 1, 0]);
        assert.equal(s2.referrers.internal, 2);
      }));

    it('lists events and engaged seconds for each of the last minutes, oldest first', () =>
      withStore({ minutes: 30 }, async (store) => {
        await store.record([view(0, 'v1', '/a'), ping(15, 'v1', '/a', 15), ping(61, 'v1', '/a', 14), hit(62, 'v2', 'other')]);
        const s = await store.snapshot(S, at(90));
        assert.equal(s.minutes.length, 30);
        assert.equal(s.minutes.at(-1)!.at, new Date(T0 + 60_000).toISOString());
        assert.deepEqual(s.minutes.slice(-2).map((m) => [m.events, m.engagedSeconds]), [
          [2, 15],
          [2, 14],
        ]);
        assert.ok(s.minutes.slice(0, -2).every((m) => m.events === 0 && m.engagedSeconds === 0));
        // 30 minutes later the first minute has left the series, the second is the oldest.
        const later = await store.snapshot(S, T0 + 30 * 60_000 + 5000);
        assert.equal(later.minutes[0]!.at, new Date(T0 + 60_000).toISOString());
        assert.deepEqual([later.minutes[0]!.events, later.minutes[0]!.engagedSeconds], [2, 14]);
        assert.equal(later.minutes.reduce((sum, m) => sum + m.events, 0), 2);
        // A hit older than the series changes no minute.
        await store.record([hit(1, 'v3', 'other')]);
        assert.equal((await store.snapshot(S, T0 + 30 * 60_000 + 5000)).minutes.reduce((sum, m) => sum + m.events, 0), 2);
      }));

    it('keeps at most maxVisitors per source, evicting the least recently seen', () =>
      withStore({ maxVisitors: 3 }, async (store) => {
        await store.record([view(0, 'v1', '/a'), view(1, 'v2', '/a'), view(2, 'v3', '/a'), ping(3, 'v1', '/a', 1), view(4, 'v4', '/b')]);
        const s = await store.snapshot(S, at(5));
        assert.equal(s.visitors.total, 3);
        // v2 was the least recently seen once v1 pinged.
        assert.deepEqual(s.pages.map((p) => [p.path, p.visitors]), [
          ['/a', 2],
          ['/b', 1],
        ]);
      }));

    it('an event that is not a page view or ping keeps a known visitor current and adds no visitor; bots come as such', () =>
      withStore({ visitorWindowMs: 30_000 }, async (store) => {
        await store.record([view(0, 'v1', '/a'), hit(20, 'v1', 'other'), hit(20, 'bot', 'other')]);
        assert.equal((await store.snapshot(S, at(45))).visitors.total, 1);
        assert.equal((await store.snapshot(S, at(51))).visitors.total, 0);
      }));

    it('keeps the newest tailSize events in order with sequence numbers, and pages from a cursor', () =>
      withStore({ tailSize: 3 }, async (store) => {
        assert.deepEqual(await store.tail(S), { cursor: 0, events: [] });
        const hits = [view(0, 'v1', '/a'), ping(1, 'v1', '/a', 1), view(2, 'v2', '/b'), hit(3, 'v2', 'other'), hit(4, 'v3', 'other')];
        await store.record(hits.slice(0, 2));
        const first = await store.tail(S);
        assert.deepEqual(first, { cursor: 2, events: hits.slice(0, 2).map((h) => h.tail) });
        await store.record(hits.slice(2));
        assert.deepEqual(await store.tail(S), { cursor: 5, events: hits.slice(2).map((h) => h.tail) });
        assert.deepEqual(await store.tail(S, 3), { cursor: 5, events: hits.slice(3).map((h) => h.tail) });
        assert.deepEqual(await store.tail(S, 5), { cursor: 5, events: [] });
        // Further behind than what is kept: what is kept.
        assert.deepEqual((await store.tail(S, 0)).events, hits.slice(2).map((h) => h.tail));
        // A cursor ahead of the store (it restarted): everything kept.
        assert.deepEqual((await store.tail(S, 99)).events, hits.slice(2).map((h) => h.tail));
      }));

    it('keeps sources apart, and changes a source version only when its hits are recorded', () =>
      withStore({}, async (store) => {
        const v0 = await store.version(S);
        await store.record([view(0, 'v1', '/a'), { ...view(0, 'v2', '/a'), sourceId: 'src_other' }]);
        const v1 = await store.version(S);
        assert.notEqual(v1, v0);
        const other = await store.version('src_other');
        await store.record([{ ...view(1, 'v3', '/a'), sourceId: 'src_other' }]);
        assert.equal(await store.version(S), v1);
        assert.notEqual(await store.version('src_other'), other);
        assert.equal((await store.snapshot(S, at(2))).visitors.total, 1);
        assert.equal((await store.snapshot('src_other', at(2))).visitors.total, 2);
        assert.equal((await store.snapshot('src_none', at(2))).visitors.total, 0);
        assert.equal((await store.tail('src_other')).events.length, 2);
        assert.equal((await store.snapshot(S, at(2))).version, v1);
      }));

    it('shares its state between stores on the same backend: writers merge, readers agree', (t) =>
      withStore({ tailSize: 10 }, async (store, fx) => {
        if (fx.openAnother === undefined) return t.skip('the state lives in one process');
        const other = await fx.openAnother();
        await store.record([view(0, 'v1', '/a'), view(0, 'v2', '/a')]);
        await other.record([view(1, 'v3', '/b'), ping(2, 'v1', '/a', 2)]);
        const [mine, theirs] = [await store.snapshot(S, at(3)), await other.snapshot(S, at(3))];
        assert.deepEqual(theirs, mine);
        assert.deepEqual(mine.visitors, { total: 3, engaged: 3, idle: 0 });
        assert.deepEqual(mine.pages.map((p) => [p.path, p.visitors]), [
          ['/a', 2],
          ['/b', 1],
        ]);
        assert.equal(await other.version(S), await store.version(S));
        const tail = await other.tail(S);
        assert.deepEqual(tail, await store.tail(S));
        assert.equal(tail.cursor, 4);
        assert.deepEqual(tail.events.map((e) => e.anonymousId), ['v1', 'v2', 'v3', 'v1']);
      }));
  });
}
