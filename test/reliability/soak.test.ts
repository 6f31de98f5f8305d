import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckedLoad } from '../helpers/acked-load.js';
import { rssBytes, weirChildren } from '../helpers/process-tree.js';
import { WeirServer, freePort, removeDir, tempDir } from '../helpers/weir-process.js';
import { FULL, report } from './size.js';

/**
 * Soak: measure capacity with a short closed-loop ramp, then hold half of it for the soak's
 * length. CI runs 2 minutes (enough for several thousand requests and ~24 RSS samples; a leak of
 * a few MB per minute shows), `WEIR_RELIABILITY_FULL=1` runs 10 (`WEIR_SOAK_SECONDS` overrides).
 *
 * Bounds: every request acknowledged and the rate held within 10 %; p99 acknowledgement
 * latency does not drift (the last third's p99 at most P99_DRIFT times the first third's, plus
 * 250 ms) and stays under P99_BOUND_MS. The absolute bound is loose on purpose: on a shared
 * 2-core machine at load 26 the 10-minute soak measured p50 109 ms and p99 3.2 s (processes
 * wait for CPU, not for Weir); what a soak must catch is latency that grows with time. Each
 * collector's RSS slope over the steady part (after the first third) stays under the slope
 * bound; the sinks process holds DuckDB, whose buffer cache grows with the warehouse, so its
 * bound is looser.
 */
const SOAK_SECONDS = Number(process.env.WEIR_SOAK_SECONDS ?? (FULL ? 600 : 120));
const RAMP_SECONDS = FULL ? 30 : 15;
const P99_BOUND_MS = 5000;
const P99_DRIFT = 2;
const COLLECTOR_SLOPE_BOUND_MB_PER_MIN = FULL ? 2 : 8;
const SINKS_SLOPE_BOUND_MB_PER_MIN = FULL ? 16 : 48;
const SAMPLE_MS = 5000;

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

test(`soak: ${SOAK_SECONDS} s at half of measured capacity with flat memory and bounded p99`, { timeout: (SOAK_SECONDS + RAMP_SECONDS + 120) * 1000 }, async () => {
  const dataDir = tempDir('weir-soak-');
  const server = await WeirServer.start({ dataDir, workers: 2, port: await freePort() });
  try {
    const ramp = new AckedLoad({ url: server.url, writeKey: server.writeKey, senders: 16, batchSize: 10, prefix: 'ramp' });
    ramp.start();
    await sleep(RAMP_SECONDS * 1000);
    await ramp.stop();
    const capacity = ramp.ackRate;
    const rate = capacity / 2;

    const load = new AckedLoad({ url: server.url, writeKey: server.writeKey, senders: 32, batchSize: 10, prefix: 'soak', rate });
    const samples = new Map<string, Array<[number, number]>>();
    const children = weirChildren(server.child.pid!);
    const started = Date.now();
    load.start();
    while (Date.now() - started < SOAK_SECONDS * 1000) {
      await sleep(SAMPLE_MS);
      const minute = (Date.now() - started) / 60_000;
      for (const c of children) {
        const name = c.role === 'sinks' ? 'sinks' : `collector ${c.partition}`;
        const rss = rssBytes(c.pid);
        if (rss !== undefined) samples.set(name, [...(samples.get(name) ?? []), [minute, rss / 2 ** 20]]);
      }
    }
    await load.stop();
    const seconds = (Date.now() - started) / 1000;
    const achieved = load.acked.size / seconds;

    const slopes: Record<string, number> = {};
    const rssMB: Record<string, [number, number]> = {};
    for (const [name, points] of samples) {
      // The first third warms up (JIT, heap growth, DuckDB's cache filling).
      const steady = points.slice(Math.floor(points.length / 3));
      slopes[name] = Math.round(slope(steady) * 100) / 100;
      rssMB[name] = [Math.round(points[0]![1]), Math.round(points.at(-1)![1])];
    }
    const p50 = load.percentile(0.5);
    const p99 = load.percentile(0.99);
    const third = (seconds * 1000) / 3;
    const p99Thirds = [0, 1, 2].map((i) => Math.round(load.percentile(0.99, i * third, (i + 1) * third)));
    report('soak', {
      seconds: Math.round(seconds),
      capacityEventsPerSec: Math.round(capacity),
      targetEventsPerSec: Math.round(rate),
      achievedEventsPerSec: Math.round(achieved),
      p50Ms: Math.round(p50),
      p99Ms: Math.round(p99),
      p99MsByThird: p99Thirds,
      maxMs: Math.round(load.percentile(1)),
      rssMBFirstLast: rssMB,
      rssSlopeMBPerMin: slopes,
      outcomes: Object.fromEntries(load.outcomes),
    });

    assert.deepEqual(weirChildren(server.child.pid!), children, 'no process crashed or restarted');
    assert.deepEqual([...load.outcomes.keys()], ['200'], 'every request was acknowledged');
    assert.ok(achieved > rate * 0.9, `the rate held: ${achieved.toFixed(0)} of ${rate.toFixed(0)} events/s`);
    assert.ok(p99 < P99_BOUND_MS, `p99 ${p99.toFixed(0)} ms < ${P99_BOUND_MS} ms`);
    assert.ok(p99Thirds[2]! <= p99Thirds[0]! * P99_DRIFT + 250, `p99 does not drift: ${p99Thirds.join(' → ')} ms by third`);
    for (const [name, s] of Object.entries(slopes)) {
      const bound = name === 'sinks' ? SINKS_SLOPE_BOUND_MB_PER_MIN : COLLECTOR_SLOPE_BOUND_MB_PER_MIN;
      assert.ok(s < bound, `${name} RSS grows ${s} MB/min (bound ${bound})`);
    }
  } finally {
    await server.crash();
    removeDir(dataDir);
  }
});
