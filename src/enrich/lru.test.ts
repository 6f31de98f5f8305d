import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LruCache } from './lru.js';

function counting(): { calls: string[]; compute: (k: string) => string } {
  const calls: string[] = [];
  return { calls, compute: (k) => (calls.push(k), k.toUpperCase()) };
}

describe('LruCache', () => {
  it('computes a key once and then answers from the cache', () => {
    const cache = new LruCache<string>({ capacity: 4, maxKeyLength: 100 });
    const c = counting();
    assert.equal(cache.get('a', c.compute), 'A');
    assert.equal(cache.get('b', c.compute), 'B');
    assert.equal(cache.get('a', c.compute), 'A');
    assert.equal(cache.get('b', c.compute), 'B');
    assert.deepEqual(c.calls, ['a', 'b']);
  });

  it('stays within its capacity, evicting the least recently used', () => {
    const cache = new LruCache<string>({ capacity: 4, maxKeyLength: 100 });
    const c = counting();
    for (const k of ['a', 'b', 'c', 'd']) cache.get(k, c.compute);
    // 'a' is old enough to be moved on use, so it survives the next insert; 'b' does not.
    cache.get('a', c.compute);
    cache.get('e', c.compute);
    assert.equal(cache.size, 4);
    assert.equal(cache.has('a'), true);
    assert.equal(cache.has('b'), false);
    for (let i = 0; i < 1000; i++) cache.get(`k${i}`, c.compute);
    assert.equal(cache.size, 4);
  });

  it('keeps a key used within the last capacity/2 operations, whatever the traffic', () => {
    const cache = new LruCache<string>({ capacity: 64, maxKeyLength: 100 });
    const c = counting();
    for (let i = 0; i < 10_000; i++) {
      cache.get('hot', c.compute);
      for (let j = 0; j < 20; j++) cache.get(`cold-${i}-${j}`, c.compute);
    }
    assert.equal(c.calls.filter((k) => k === 'hot').length, 1);
  });

  it('computes keys over maxKeyLength every time and keeps none of them', () => {
    const cache = new LruCache<string>({ capacity: 4, maxKeyLength: 8 });
    const c = counting();
    const long = 'x'.repeat(9);
    cache.get(long, c.compute);
    cache.get('short', c.compute);
    cache.get(long, c.compute);
    assert.equal(c.calls.filter((k) => k === long).length, 2);
    assert.equal(cache.has(long), false);
  });

  it('caches null results too, and clear() forgets everything', () => {
    const cache = new LruCache<string | null>({ capacity: 4, maxKeyLength: 100 });
    let calls = 0;
    const none = () => (calls++, null);
    cache.get('q', none);
    cache.get('r', none);
    cache.get('q', none);
    assert.equal(calls, 2);
    cache.clear();
    cache.get('q', none);
    assert.equal(calls, 3);
  });

  it('refuses a capacity below 2', () => {
    assert.throws(() => new LruCache({ capacity: 1, maxKeyLength: 10 }), RangeError);
  });
});
