import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { WeirServer, basic, eventually, removeDir, tempDir, weir } from '../helpers/weir-process.js';

function count(env: NodeJS.ProcessEnv, table: string): number | undefined {
  const r = weir(['query', `select count(*) as n from ${table}`, '--format', 'json'], { env });
  return r.status === 0 ? (JSON.parse(r.stdout.trim()) as { n: number }).n : undefined;
}

async function rowsWritten(server: WeirServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^weir_warehouse_rows_total (\d+)/m.exec(text)?.[1] ?? 0);
}

test('weir replay: through a running server and standalone, rebuilding lost tables without duplicates', { timeout: 120_000 }, async () => {
  const dataDir = tempDir('weir-replay-');
  try {
    const server = await WeirServer.start({ dataDir });
    const env = { WEIR_DATA_DIR: dataDir, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ type: 'track', event: 'Replayed', userId: `u${i % 9}`, messageId: `r-${b}-${i}` }));
      const res = await fetch(`${server.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(server.writeKey), 'content-type': 'application/json' },
        body: JSON.stringify({ batch }),
      });
      assert.equal(res.status, 200);
    }
    await eventually(() => count(env, 'tracks') === 500, 15_000, 250);

    // With weir up running, its loader takes the request: rows are written again, none doubled.
    const before = await rowsWritten(server);
    const live = weir(['replay', '--sink', 'warehouse'], { env, timeoutMs: 60_000 });
    assert.equal(live.status, 0, live.stderr);
    assert.match(live.stderr, /100%/);
    assert.ok((await rowsWritten(server)) >= before + 1000, 'tracks and replayed rows were written again');
    assert.equal(count(env, 'tracks'), 500);
    assert.equal(count(env, 'replayed'), 500);
    assert.equal(await server.stop(), 0);

    // The warehouse is lost; the log is not: a standalone replay rebuilds every table.
    rmSync(join(dataDir, 'warehouse.duckdb'), { force: true });
    rmSync(join(dataDir, 'warehouse.duckdb.wal'), { force: true });
    const rebuilt = weir(['replay', '--sink', 'warehouse', '--from', 'earliest'], { env, timeoutMs: 60_000 });
    assert.equal(rebuilt.status, 0, rebuilt.stderr);
    assert.match(rebuilt.stderr, /500\/500 events/);
    assert.equal(count(env, 'tracks'), 500);
    assert.equal(count(env, 'replayed'), 500);

    const bad = weir(['replay', '--sink', 'warehouse', '--from', 'last tuesday'], { env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--from/);
  } finally {
    removeDir(dataDir);
  }
});
