import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { WeirError } from '../../errors/catalogue.js';
import type { LiveHit } from '../realtime-store.js';
import { openRedisRealtimeStore } from './index.js';
import { deleteKeys, REDIS_URL, redisUnreachable, uniqueKeyPrefix } from '../../../test/helpers/redis.js';
import { requireOrSkip } from '../../../test/helpers/pipeline-fixtures.js';

const T0 = Date.UTC(2026, 2, 2, 9, 0, 0);
const hit = (visitorId: string, sourceId = 's1'): LiveHit => ({
  sourceId,
  at: T0,
  visitorId,
  kind: 'page',
  path: '/',
  pageViewId: `${visitorId}/`,
  engagedSeconds: 0,
  tail: { messageId: visitorId, type: 'page', event: null, name: null, receivedAt: new Date(T0).toISOString(), anonymousId: visitorId, userId: null, properties: null, context: null },
});

/** A port nothing listens on (free a moment ago). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const assertUnavailable = (err: unknown) => {
  assert.ok(err instanceof WeirError, String(err));
  assert.equal(err.code, 'WEIR_LIVE_STORE_UNAVAILABLE');
  assert.equal(err.retriable, true);
  return true;
};

describe('Redis RealtimeStore', () => {
  it('fails to open an unreachable Redis with a retriable error that names it, without its password', async () => {
    const port = await freePort();
    await assert.rejects(openRedisRealtimeStore({ url: `redis://:secret@127.0.0.1:${port}`, connectTimeoutMs: 1000 }), (err) => {
      assertUnavailable(err);
      assert.match((err as Error).message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.doesNotMatch((err as Error).message, /secret/);
      return true;
    });
  });

  describe('on the shared Redis', () => {
    let skip: string | undefined;
    before(async () => {
      skip = await redisUnreachable();
    });

    it('puts a TTL on every key it writes, so the keys of a silent source expire', async (t) => {
      if (!requireOrSkip('Redis', skip === undefined ? {} : { skip }, (r) => t.skip(r))) return;
      const keyPrefix = uniqueKeyPrefix('rtttl');
      const store = await openRedisRealtimeStore({ url: REDIS_URL, keyPrefix, windows: { maxVisitors: 1 } });
      const client = new Redis(REDIS_URL);
      try {
        await store.record([hit('v1'), hit('v2'), { ...hit('v3'), kind: 'ping', engagedSeconds: 4 }]);
        const keys = await client.keys(`${keyPrefix}*`);
        assert.deepEqual(keys.map((k) => k.slice(keyPrefix.length)).sort(), ['{s1}:min', '{s1}:seen', '{s1}:seq', '{s1}:tail', '{s1}:ver', '{s1}:vis']);
        for (const k of keys) assert.ok((await client.pttl(k)) > 0, `${k} has no TTL`);
        // Evicted visitors leave the hash of page views too.
        assert.equal(await client.hlen(`${keyPrefix}{s1}:vis`), 1);
      } finally {
        client.disconnect();
        await store.close();
        await deleteKeys(keyPrefix);
      }
    });
  });

  describe('while its Redis is down', () => {
    let server: ChildProcess | undefined;
    let port = 0;
    const url = () => `redis://127.0.0.1:${port}`;
    const start = async () => {
      server = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      // A missing binary: reported by the reachability check below.
      server.on('error', () => {});
      for (let i = 0; i < 100 && (await redisUnreachable(url())); i++) await new Promise((r) => setTimeout(r, 50));
    };
    const stop = async () => {
      const s = server;
      server = undefined;
      if (s?.exitCode === null) await new Promise((r) => s.once('exit', r).kill('SIGKILL'));
    };
    after(stop);

    it('fails calls at once with a retriable error, and works again when Redis is back', async (t) => {
      port = await freePort();
      await start();
      if (await redisUnreachable(url())) return t.skip('no redis-server binary to run a private Redis');
      const store = await openRedisRealtimeStore({ url: url() });
      try {
        await store.record([hit('v1')]);
        await stop();
        await assert.rejects(store.record([hit('v2')]), assertUnavailable);
        await assert.rejects(store.snapshot('s1', T0), assertUnavailable);
        await start();
        // ioredis reconnects on its own; the caller retries until then.
        for (let i = 0; ; i++) {
          try {
            await store.record([hit('v2')]);
            break;
          } catch (err) {
            assertUnavailable(err);
            if (i > 100) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        // The private server kept nothing across its restart: only v2.
        assert.equal((await store.snapshot('s1', T0)).visitors.total, 1);
      } finally {
        await store.close();
      }
    });
  });
});
