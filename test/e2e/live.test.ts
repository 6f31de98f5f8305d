import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { WeirServer, basic, post, removeDir, tempDir } from '../helpers/weir-process.js';
import { openSse } from '../helpers/sse.js';
import { requireOrSkip } from '../helpers/pipeline-fixtures.js';
import { deleteKeys, REDIS_URL, redisUnreachable, uniqueKeyPrefix } from '../helpers/redis.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** Events as weir.js sends them (see tracker/src/weir.ts), for one reader of one page. */
function reader(visitor: string, path: string, opts: { returning?: boolean; referrer?: string } = {}) {
  const pageViewId = randomUUID();
  const page = { url: `https://news.example${path}`, path, search: '', title: `Story ${path}`, referrer: opts.referrer ?? '' };
  const context = { library: { name: 'weir.js', version: '0.1.0' }, page, returning: opts.returning ?? false };
  const base = () => ({ messageId: randomUUID(), anonymousId: visitor, timestamp: new Date().toISOString(), context });
  const ping = (props: Record<string, unknown>) => ({ ...base(), type: 'track', event: 'Page Ping', properties: { page_view_id: pageViewId, ...props } });
  return {
    view: () => ({ ...base(), type: 'page', properties: { ...page, page_view_id: pageViewId } }),
    ping: (engaged: number, total: number, depth: number) => ping({ engaged_seconds: engaged, total_engaged_seconds: total, max_scroll_depth: depth }),
    leave: (total: number, depth: number) => ping({ engaged_seconds: 0, total_engaged_seconds: total, max_scroll_depth: depth, page_leave: true }),
  };
}

const redisSkip = await redisUnreachable();
const STORES: Array<{ store: string; env: Record<string, string> }> = [
  { store: 'memory', env: {} },
  { store: 'redis', env: { WEIR_REALTIME_STORE: 'redis', WEIR_REALTIME_REDIS_URL: REDIS_URL, WEIR_REALTIME_REDIS_KEY_PREFIX: uniqueKeyPrefix('e2elive') } },
];

for (const { store, env } of STORES) {
  test(`live API through weir up (${store} store): snapshots and the tail over SSE, auth, a reader who leaves drops out, clean close on drain`, { timeout: 120_000 }, async (t) => {
    if (store === 'redis' && !requireOrSkip('Redis', redisSkip === undefined ? {} : { skip: redisSkip }, (r) => t.skip(r))) return;
    await liveThroughUp(env);
  });
}

async function liveThroughUp(env: Record<string, string>): Promise<void> {
  const dataDir = tempDir('weir-live-e2e-');
  const server = await WeirServer.start({ dataDir, env, startTimeoutMs: 90_000 });
  try {
    const auth = { authorization: `Bearer ${server.adminToken}` };
    // A browser's user agent: Node's own is a bot's, and bots are not visitors.
    const ingest = (batch: unknown[]) => post(server, '/v1/batch', { batch }, { authorization: basic(server.writeKey), 'user-agent': CHROME });

    // Both routes need a viewer of the source: no token 401, an unknown source 404.
    for (const path of ['/api/live?source=default', '/api/events/tail?source=default']) {
      assert.equal((await fetch(`${server.url}${path}`)).status, 401, path);
      const missing = await fetch(`${server.url}${path.replace('default', 'nope')}`, { headers: auth });
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { code: string }).code, 'WEIR_SOURCE_NOT_FOUND');
    }
    assert.equal((await fetch(`${server.url}/api/live`, { headers: auth })).status, 400);

    const early = reader('early', '/early');
    assert.equal((await ingest([early.view()])).status, 200);

    const live = await openSse(`${server.url}/api/live?source=default`, auth);
    assert.equal(live.status, 200);
    const first = await live.next('snapshot');
    assert.equal(typeof first.data.visitors.total, 'number');

    const ana = reader('ana', '/story', { returning: true, referrer: 'https://www.google.com/' });
    const ben = reader('ben', '/story', { referrer: 'https://t.co/x' });
    const cy = reader('cy', '/other');
    const sent = performance.now();
    assert.equal((await ingest([ana.view(), ben.view(), cy.view(), ana.ping(15, 15, 60), ben.ping(0, 0, 10)])).status, 200);
    const seen = await live.next('snapshot', (s) => s.pages.some((p: { path: string; visitors: number }) => p.path === '/story' && p.visitors === 2));
    const latency = seen.at - sent;
    assert.ok(latency < 2000, `the readers showed up after ${latency.toFixed(0)} ms`);
    const s = seen.data;
    assert.equal(s.visitors.total, 4);
    assert.deepEqual(s.pages[0], { path: '/story', title: 'Story /story', url: 'https://news.example/story', visitors: 2, engaged: 2 });
    assert.equal(s.referrers.search, 1);
    assert.equal(s.referrers.social, 1);
    assert.equal(s.referrers.direct, 2);
    assert.deepEqual(s.audience, { new: 3, returning: 1, unknown: 0 });
    assert.deepEqual(s.scrollDepth, [3, 0, 1, 0]);
    assert.equal(s.minutes.length, 30);
    assert.ok(s.minutes.at(-1).events + s.minutes.at(-2).events >= 6);

    // Snapshots keep coming without changes, at least once a second.
    const count = live.events.length;
    await new Promise((r) => setTimeout(r, 2200));
    assert.ok(live.events.length - count >= 2, `${live.events.length - count} snapshots in 2.2 s ${JSON.stringify(live.events.slice(-4))}`);

    // The tail: the recent events first, newest last, in the shape the Events page reads.
    const tail = await openSse(`${server.url}/api/events/tail?source=default`, auth);
    const buffer = await tail.next('events');
    const ids = buffer.data.events.map((e: { anonymousId: string }) => e.anonymousId);
    assert.deepEqual(ids, ['early', 'ana', 'ben', 'cy', 'ana', 'ben']);
    assert.deepEqual(Object.keys(buffer.data.events[0]).sort(), ['anonymousId', 'context', 'event', 'messageId', 'name', 'properties', 'receivedAt', 'type', 'userId']);
    assert.equal(buffer.data.events.at(-1).event, 'Page Ping');

    // Ana leaves (pagehide): she drops out at once; the tail shows only the new event.
    assert.equal((await ingest([ana.leave(16, 60)])).status, 200);
    const after = await live.next('snapshot', (x) => x.visitors.total === 3, 3000, live.events.length);
    assert.deepEqual(after.data.pages.find((p: { path: string }) => p.path === '/story')?.visitors, 1);
    const added = await tail.next('events', () => true, 3000, 1);
    assert.deepEqual(added.data.events.map((e: { properties: { page_leave?: boolean } }) => e.properties.page_leave), [true]);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^weir_realtime_events_total \d+/m);
    assert.ok(Number(/^weir_realtime_events_total (\d+)/m.exec(metrics)![1]) >= 7);
    assert.match(metrics, /^weir_live_snapshot_seconds_count \d+/m);
    assert.match(metrics, /^weir_live_clients\{stream="live"\} [1-9]/m);
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);

    // A drain ends open streams instead of waiting for the viewers to leave.
    const stopped = performance.now();
    assert.equal(await server.stop(), 0);
    assert.deepEqual(await Promise.all([live.ended, tail.ended]), [undefined, undefined]);
    assert.ok(performance.now() - stopped < 8000);
  } finally {
    await server.crash();
    removeDir(dataDir);
    if (env.WEIR_REALTIME_REDIS_KEY_PREFIX) await deleteKeys(env.WEIR_REALTIME_REDIS_KEY_PREFIX);
  }
}
