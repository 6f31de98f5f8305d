import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../errors/catalogue.js';
import { storeFeed, type LiveFeed } from './live-feed.js';
import { LiveHub } from './live-hub.js';
import { createMemoryRealtimeStore } from './memory/index.js';
import type { LiveHit } from './realtime-store.js';

const S = 'src_1';
let n = 0;
function view(visitorId: string): LiveHit {
  const messageId = `m${++n}`;
  return {
    sourceId: S,
    at: Date.now(),
    visitorId,
    kind: 'page',
    path: '/a',
    pageViewId: messageId,
    engagedSeconds: 0,
    tail: { messageId, type: 'page', event: null, name: null, receivedAt: new Date().toISOString(), anonymousId: visitorId, userId: null, properties: null, context: null },
  };
}

/** Parsed frames a listener received. */
function collector() {
  const frames: Array<{ event: string; data: any; at: number; id: number | undefined }> = [];
  const send = (frame: string) => {
    const [, id, event, data] = /^(?:id: (\d+)\n)?event: (\S+)\ndata: (.*)\n\n$/s.exec(frame)!;
    frames.push({ event: event!, data: JSON.parse(data!), at: Date.now(), id: id === undefined ? undefined : Number(id) });
  };
  return { frames, send };
}

async function until<T>(what: string, check: () => T | undefined | false, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A feed that counts its calls and can be made to fail. */
function countingFeed(inner: LiveFeed) {
  const calls = { snapshot: 0, tail: 0 };
  const state = { failing: false };
  const feed: LiveFeed = {
    snapshot: async (id, v) => {
      calls.snapshot++;
      if (state.failing) throw new WeirError('WEIR_LIVE_UNAVAILABLE', { detail: 'the sinks process is restarting' });
      return inner.snapshot(id, v);
    },
    tail: async (id, after) => {
      calls.tail++;
      return inner.tail(id, after);
    },
  };
  return { feed, calls, state };
}

describe('LiveHub', () => {
  it('sends a snapshot at once, within a poll of a change, and at least every maxSilenceMs otherwise', async () => {
    const store = createMemoryRealtimeStore();
    const hub = new LiveHub(storeFeed(store), { pollMs: 20, maxSilenceMs: 300 });
    const c = collector();
    const stop = hub.snapshots(S, c.send);
    try {
      await until('the first snapshot', () => c.frames.length === 1);
      assert.equal(c.frames[0]!.data.visitors.total, 0);
      const changed = Date.now();
      await store.record([view('v1')]);
      const next = await until('the changed snapshot', () => c.frames.find((f) => f.data.visitors.total === 1));
      assert.ok(next.at - changed < 150, `took ${next.at - changed} ms`);
      const count = c.frames.length;
      await new Promise((r) => setTimeout(r, 700));
      const quiet = c.frames.slice(count);
      assert.ok(quiet.length >= 2 && quiet.length <= 4, `${quiet.length} snapshots in 700 ms without changes`);
    } finally {
      stop();
      hub.close();
    }
  });

  it('shares one poller per source among listeners, and stops polling when the last one leaves', async () => {
    const store = createMemoryRealtimeStore();
    const { feed, calls } = countingFeed(storeFeed(store));
    const hub = new LiveHub(feed, { pollMs: 20 });
    const a = collector();
    const b = collector();
    const stopA = hub.snapshots(S, a.send);
    const stopB = hub.snapshots(S, b.send);
    await new Promise((r) => setTimeout(r, 400));
    // One loop every 20 ms: about 20 calls, not 40.
    assert.ok(calls.snapshot <= 24, `${calls.snapshot} snapshot requests in 400 ms`);
    await store.record([view('v1')]);
    await until('both listeners to see the visitor', () => a.frames.some((f) => f.data.visitors.total === 1) && b.frames.some((f) => f.data.visitors.total === 1));
    stopA();
    stopB();
    await new Promise((r) => setTimeout(r, 60));
    const after = calls.snapshot;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(calls.snapshot, after, 'a poller without listeners stopped');
    // A new listener starts it again.
    const c = collector();
    const stopC = hub.snapshots(S, c.send);
    await until('a snapshot for the new listener', () => c.frames.length > 0);
    stopC();
    hub.close();
  });

  it('says once per outage that live data is unavailable, then goes on when it is back', async () => {
    const store = createMemoryRealtimeStore();
    const { feed, state } = countingFeed(storeFeed(store));
    state.failing = true;
    const hub = new LiveHub(feed, { pollMs: 10 });
    const c = collector();
    const stop = hub.snapshots(S, c.send);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(
      c.frames.map((f) => [f.event, f.data.code]),
      [['unavailable', 'WEIR_LIVE_UNAVAILABLE']],
    );
    state.failing = false;
    await until('a snapshot after the outage', () => c.frames.some((f) => f.event === 'snapshot'));
    stop();
    hub.close();
  });

  it('tail: the kept events first, then only new ones, to listeners that join at any time', async () => {
    const store = createMemoryRealtimeStore({ tailSize: 50 });
    const hub = new LiveHub(storeFeed(store), { pollMs: 10 });
    await store.record([view('v1'), view('v2')]);
    const a = collector();
    const stopA = hub.tail(S, a.send);
    await until('the first page', () => a.frames.length === 1);
    assert.deepEqual(a.frames[0]!.data.events.map((e: { anonymousId: string }) => e.anonymousId), ['v1', 'v2']);
    await store.record([view('v3')]);
    await until('the new event', () => a.frames.length === 2);
    assert.deepEqual(a.frames[1]!.data.events.map((e: { anonymousId: string }) => e.anonymousId), ['v3']);
    const b = collector();
    const stopB = hub.tail(S, b.send);
    await store.record([view('v4'), view('v5')]);
    await until('both to have every event', () => {
      const ids = (c: typeof a) => c.frames.flatMap((f) => f.data.events.map((e: { anonymousId: string }) => e.anonymousId)).join(',');
      return ids(a) === 'v1,v2,v3,v4,v5' && ids(b) === 'v1,v2,v3,v4,v5';
    });
    await new Promise((r) => setTimeout(r, 100));
    // Nothing twice.
    assert.equal(a.frames.flatMap((f) => f.data.events).length, 5);
    assert.equal(b.frames.flatMap((f) => f.data.events).length, 5);
    stopA();
    stopB();
    // Frames carry the sequence number of their last event; a reconnect with it gets only what followed.
    assert.deepEqual(a.frames.map((f) => f.id), [2, 3, 5]);
    const c = collector();
    const stopC = hub.tail(S, c.send, 3);
    await until('the page after Last-Event-ID', () => c.frames.length === 1);
    assert.deepEqual(c.frames[0]!.data.events.map((e: { anonymousId: string }) => e.anonymousId), ['v4', 'v5']);
    stopC();
    hub.close();
  });
});
