import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirServer, basic, eventually, removeDir, tempDir } from '../helpers/weir-process.js';
import { PrivateClickHouse } from '../helpers/private-clickhouse.js';

/**
 * The warehouse (a real ClickHouse) is killed in the middle of the load and started again: the
 * collector keeps acknowledging, /readyz and the lag metric show the outage, and afterwards every
 * acknowledged messageId is in ClickHouse exactly once.
 */
test('warehouse outage mid-load: ingest goes on, readyz and lag show it, every acknowledged event lands once', { timeout: 180_000 }, async (ctx) => {
  const dir = tempDir('weir-outage-');
  const clickhouse = PrivateClickHouse.create(dir);
  if (!clickhouse) {
    if (process.env.WEIR_REQUIRE_SERVICES === '1') throw new Error('clickhouse-server is required (scripts/start-clickhouse.sh installs it)');
    return ctx.skip('SKIP clickhouse-server is not installed');
  }
  let server: WeirServer | undefined;
  try {
    await clickhouse.start();
    server = await WeirServer.start({
      dataDir: `${dir}/weir`,
      env: { WEIR_WAREHOUSE_ENGINE: 'clickhouse', WEIR_WAREHOUSE_URL: clickhouse.url, WEIR_WAREHOUSE_BATCH_MAX_WAIT_MS: '200' },
    });
    const target = server;
    const acked = new Set<string>();
    const refused: number[] = [];
    let stop = false;
    let n = 0;
    const sender = async (s: number) => {
      while (!stop) {
        const ids = Array.from({ length: 10 }, () => `o-${s}-${n++}`);
        const res = await fetch(`${target.url}/v1/batch`, {
          method: 'POST',
          headers: { authorization: basic(target.writeKey), 'content-type': 'application/json' },
          body: JSON.stringify({ batch: ids.map((id) => ({ type: 'track', event: 'Outage', userId: 'u', messageId: id })) }),
        });
        if (res.status === 200) for (const id of ids) acked.add(id);
        else refused.push(res.status);
        await res.arrayBuffer();
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const senders = Array.from({ length: 4 }, (_, s) => sender(s));
    await new Promise((r) => setTimeout(r, 1500));

    await clickhouse.kill();
    const ackedAtKill = acked.size;
    const readyz = await eventually(async () => {
      const res = await fetch(`${target.url}/readyz`);
      const body = (await res.json()) as { checks: { warehouse?: { ok: boolean; lag: number } } };
      return res.status === 503 && body.checks.warehouse?.ok === false && body.checks.warehouse.lag > 0 ? body : undefined;
    }, 20_000, 200);
    assert.ok(readyz.checks.warehouse!.lag > 0);
    const metrics = await (await fetch(`${target.url}/metrics`)).text();
    assert.match(metrics, /weir_consumer_lag_records\{group="warehouse"\} [1-9]/);
    assert.match(metrics, /weir_warehouse_errors_total\{code="WEIR_WAREHOUSE_UNAVAILABLE"\} [1-9]/);
    assert.ok(acked.size > ackedAtKill, 'the collector kept acknowledging while the warehouse was down');

    await clickhouse.start();
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(senders);
    assert.deepEqual(refused, [], 'no request was refused');

    // Every acknowledged event, once.
    const schema = 'default';
    // Caught up: ready again and nothing left in the log for the warehouse.
    await eventually(async () => {
      const res = await fetch(`${target.url}/readyz`);
      const body = (await res.json()) as { checks: { warehouse?: { ok: boolean; lag: number } } };
      return res.status === 200 && body.checks.warehouse?.lag === 0;
    }, 60_000, 250);
    const [rows, distinct] = (await clickhouse.sql(`SELECT count(), uniqExact(id) FROM \`${schema}\`.tracks FINAL`)).trim().split('\t').map(Number);
    const stored = new Set((await clickhouse.sql(`SELECT id FROM \`${schema}\`.tracks`)).trim().split('\n'));
    const missing = [...acked].filter((id) => !stored.has(id));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events missing`);
    assert.equal(distinct, rows, 'no duplicates');
    assert.ok(rows! >= acked.size);
    assert.equal(await server.stop(), 0);
    server = undefined;
  } finally {
    await server?.crash();
    await clickhouse.kill();
    removeDir(dir);
  }
});
