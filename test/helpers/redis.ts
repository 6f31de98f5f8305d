/**
 * The local Redis for tests: whether it answers, and a key prefix unique to each use whose keys
 * are deleted afterwards.
 *
 * @example
 * ```ts
 * const skip = await redisUnreachable();
 * const prefix = uniqueKeyPrefix('rttest');
 * // ... openRedisRealtimeStore({ url: REDIS_URL, keyPrefix: prefix })
 * await deleteKeys(prefix);
 * ```
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export const REDIS_URL = 'redis://127.0.0.1:6379';

/** Why the Redis at `url` (default: the local one) cannot be used, or undefined when it can. */
export async function redisUnreachable(url = REDIS_URL): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (err) {
    return `Redis at ${url} unreachable: ${(err as Error).message}`;
  } finally {
    client.disconnect();
  }
}

/** A key prefix no other test run uses. */
export function uniqueKeyPrefix(name: string): string {
  return `weir:test:${name}:${Date.now().toString(36)}${randomBytes(3).toString('hex')}:`;
}

/** Deletes every key that starts with `prefix` (SCAN, then DEL in batches). */
export async function deleteKeys(prefix: string): Promise<void> {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      if (keys.length > 0) await client.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}
