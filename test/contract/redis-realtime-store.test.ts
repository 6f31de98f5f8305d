import { describe, it } from 'node:test';
import type { RealtimeStore } from '../../src/realtime/realtime-store.js';
import { openRedisRealtimeStore } from '../../src/realtime/redis/index.js';
import { deleteKeys, REDIS_URL, redisUnreachable, uniqueKeyPrefix } from '../helpers/redis.js';
import { requireOrSkip } from '../helpers/pipeline-fixtures.js';
import { realtimeStoreContract } from './realtime-store.contract.js';

const skip = await redisUnreachable();

if (skip === undefined) {
  realtimeStoreContract('redis', async (windows) => {
    const keyPrefix = uniqueKeyPrefix('rt');
    const opened: RealtimeStore[] = [];
    const open = async () => {
      const store = await openRedisRealtimeStore({ url: REDIS_URL, keyPrefix, windows });
      opened.push(store);
      return store;
    };
    return {
      store: await open(),
      openAnother: open,
      async cleanup() {
        for (const s of opened) await s.close();
        await deleteKeys(keyPrefix);
      },
    };
  });
} else {
  describe('RealtimeStore contract: redis', () => {
    it('needs Redis', (t) => {
      requireOrSkip('Redis', { skip }, (reason) => t.skip(reason));
    });
  });
}
