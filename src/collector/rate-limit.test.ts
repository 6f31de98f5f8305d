import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../errors/catalogue.js';
import { parseSourceSettings } from '../state/settings.js';
import { SourceRateLimits, TokenBucketLimiter } from './rate-limit.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const LIMIT = { eventsPerSecond: 10, burst: 20 };

test('a bucket admits its burst, refuses with the wait until enough tokens, and refills at the rate', () => {
  const c = clock();
  const limiter = new TokenBucketLimiter(c.now);
  assert.deepEqual(limiter.take('a', 15, LIMIT), { ok: true });
  assert.deepEqual(limiter.take('a', 5, LIMIT), { ok: true });
  assert.deepEqual(limiter.take('a', 5, LIMIT), { ok: false, retryAfterSeconds: 1 });
  assert.deepEqual(limiter.take('b', 20, LIMIT), { ok: true }, 'another key has its own bucket');
  c.advance(499);
  assert.equal(limiter.take('a', 5, LIMIT).ok, false);
  c.advance(1);
  assert.deepEqual(limiter.take('a', 5, LIMIT), { ok: true });
  c.advance(60_000);
  assert.deepEqual(limiter.take('a', 20, LIMIT), { ok: true }, 'refill stops at the burst');
  assert.equal(limiter.take('a', 1, LIMIT).ok, false);
});

test('a batch larger than the burst needs a full bucket and leaves a debt: the rate holds over time', () => {
  const c = clock();
  const limiter = new TokenBucketLimiter(c.now);
  assert.deepEqual(limiter.take('a', 50, LIMIT), { ok: true });
  // 30 tokens owed: a full bucket again takes 5 s.
  assert.deepEqual(limiter.take('a', 50, LIMIT), { ok: false, retryAfterSeconds: 5 });
  c.advance(4900);
  assert.equal(limiter.take('a', 50, LIMIT).ok, false);
  c.advance(100);
  assert.deepEqual(limiter.take('a', 50, LIMIT), { ok: true });
  // Admitted over the whole run: 100 events in 5 s from a bucket of 20 at 10/s (20 + 50 = 70, plus the debt).
  let admitted = 0;
  for (let i = 0; i < 1000; i++) {
    c.advance(10);
    if (limiter.take('a', 1, LIMIT).ok) admitted++;
  }
  assert.ok(admitted <= 100 - 30 + 1, `${admitted} in 10 s after a debt of 30`);
});

test('source settings override the server default; 0 turns the limit off; each process enforces its share', () => {
  const c = clock();
  const limits = new SourceRateLimits({ eventsPerSecond: 100, burst: 0, share: 1 / 2, limiter: new TokenBucketLimiter(c.now) });
  const plain = { id: 'src_plain', settings: parseSourceSettings('{}') };
  const own = { id: 'src_own', settings: parseSourceSettings('{"rateLimitEventsPerSecond": 10, "rateLimitBurst": 4}') };
  const off = { id: 'src_off', settings: parseSourceSettings('{"rateLimitEventsPerSecond": 0}') };
  limits.check(plain, 50); // half of the default burst (one second of 100/s)
  assert.throws(() => limits.check(plain, 1), (err: unknown) => {
    assert.ok(err instanceof WeirError);
    assert.equal(err.code, 'WEIR_INGEST_RATE_LIMITED');
    assert.equal(err.status, 429);
    assert.equal(err.params.retryAfter, 1);
    assert.match(err.message, /src_plain .* 100 events\/s \(burst 100\)/);
    return true;
  });
  limits.check(own, 2);
  assert.throws(() => limits.check(own, 1), /rate limit of 10 events\/s \(burst 4\)/);
  for (let i = 0; i < 100; i++) limits.check(off, 1000);
});
