import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirServer, basic, removeDir, tempDir, weir } from '../helpers/weir-process.js';
import { batchOf } from './backpressure-helpers.js';

const RATE = 200;
const SECONDS = 3;
const BATCH = 10;

interface Tally {
  accepted: number;
  refused: Array<{ status: number; code: string; retryAfter: string | null }>;
}

/** Sends batches of BATCH events with `writeKey` until `until`, `pauseMs` apart. */
async function sender(url: string, writeKey: string, name: string, until: number, pauseMs: number, tally: Tally): Promise<void> {
  for (let b = 0; Date.now() < until; b++) {
    const ids = Array.from({ length: BATCH }, (_, i) => `${name}-${b}-${i}`);
    const res = await fetch(`${url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
      body: batchOf(ids),
    });
    const text = await res.text();
    if (res.status === 200) tally.accepted += BATCH;
    else tally.refused.push({ status: res.status, code: (JSON.parse(text) as { code: string }).code, retryAfter: res.headers.get('retry-after') });
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

/**
 * `weir up` with two collector processes sharing the port and a limit of 200 events/s (burst
 * 200) per write key: one key floods from eight connections and gets 429 WEIR_INGEST_RATE_LIMITED
 * with Retry-After, the server as a whole admits no more than the limit for that key, and a
 * second key sending below the limit at the same time is never refused.
 */
test('rate limit per write key across collector processes: 429 + Retry-After above it, other keys unaffected', { timeout: 90_000 }, async (ctx) => {
  const dataDir = tempDir('weir-rate-');
  const env = { WEIR_LIMITS_RATE_LIMIT_EVENTS_PER_SECOND: String(RATE), WEIR_WAREHOUSE_ENGINE: 'none', WEIR_LAKE_ENABLED: 'false' };
  let server: WeirServer | undefined;
  try {
    server = await WeirServer.start({ dataDir, workers: 2, env });
    const other = JSON.parse(weir(['sources', 'create', 'calm', '--json'], { env: { WEIR_DATA_DIR: dataDir } }).stdout) as { writeKey: string };

    const flood: Tally = { accepted: 0, refused: [] };
    const calm: Tally = { accepted: 0, refused: [] };
    const started = Date.now();
    const until = started + SECONDS * 1000;
    await Promise.all([
      ...Array.from({ length: 8 }, (_, s) => sender(server!.url, server!.writeKey, `flood${s}`, until, 0, flood)),
      // 10 events every 200 ms: a quarter of the limit.
      sender(server.url, other.writeKey, 'calm', until, 200, calm),
    ]);
    const elapsed = (Date.now() - started) / 1000;

    assert.deepEqual(calm.refused, [], 'the other key was never refused');
    assert.ok(calm.accepted >= 2 * BATCH, `${calm.accepted} calm events`);
    ctx.diagnostic(`flood: ${flood.accepted} admitted, ${flood.refused.length} refused in ${elapsed} s; calm: ${calm.accepted}`);
    assert.ok(flood.refused.length > 0, 'the flooding key was refused');
    for (const r of flood.refused) {
      assert.equal(r.status, 429);
      assert.equal(r.code, 'WEIR_INGEST_RATE_LIMITED');
      assert.ok(Number(r.retryAfter) >= 1, `Retry-After ${r.retryAfter}`);
    }
    const ceiling = RATE + RATE * elapsed; // a full bucket, then the rate, for the whole server
    assert.ok(flood.accepted <= ceiling, `${flood.accepted} events admitted in ${elapsed} s, over the server-wide ceiling of ${ceiling}`);
    assert.ok(flood.accepted >= 0.6 * ceiling, `${flood.accepted} events admitted in ${elapsed} s: far below the limit (${ceiling})`);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const refusedMetric = /weir_ingest_errors_total\{code="WEIR_INGEST_RATE_LIMITED"\} (\d+)/.exec(metrics);
    assert.equal(Number(refusedMetric?.[1]), flood.refused.length, 'refusals counted by code');
    assert.equal(await server.stop(), 0);
    server = undefined;
  } finally {
    await server?.crash();
    removeDir(dataDir);
  }
});
