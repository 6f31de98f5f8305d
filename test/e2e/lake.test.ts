import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStateStore } from '../../src/state/sqlite/index.js';
import { WeirServer, basic, eventually, removeDir, tempDir, weir } from '../helpers/weir-process.js';

function json(r: { status: number | null; stdout: string; stderr: string }): Array<Record<string, unknown>> {
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const today = new Date().toISOString().slice(0, 10);

test('the lake end to end: written by weir up, listed and downloaded over the API, queried, imported into, reloaded from', { timeout: 180_000 }, async () => {
  const dataDir = tempDir('weir-lake-e2e-');
  // Files are cut within a fraction of a second, so the test need not wait five minutes.
  const serverEnv = { WEIR_LAKE_MAX_FILE_AGE_MS: '200' };
  let server = await WeirServer.start({ dataDir, env: serverEnv });
  try {
    const env = { WEIR_DATA_DIR: dataDir, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
    const batch = Array.from({ length: 120 }, (_, i) => ({
      type: 'track',
      event: 'Lake Test',
      userId: `u${i % 7}`,
      messageId: `lake-${i}`,
      properties: { i, title: `<b>${i}</b>` },
    }));
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: basic(server.writeKey), 'content-type': 'application/json' },
      body: JSON.stringify({ batch }),
    });
    assert.equal(res.status, 200);

    // weir query --lake reads the Parquet files the sinks process wrote.
    const counted = await eventually(() => {
      const r = weir(['query', '--lake', "select count(*) as n, count(distinct message_id) as d, sum((properties->>'i')::int) as s from events", '--format', 'json'], { env });
      if (r.status !== 0) return undefined;
      const row = json(r)[0]!;
      return Number(row.n) === 120 ? row : undefined;
    }, 30_000, 250);
    assert.deepEqual([Number(counted.d), Number(counted.s)], [120, (119 * 120) / 2]);
    const dated = json(weir(['query', '--lake', '--since', today, '--until', today, 'select count(*) as n from events', '--format', 'json'], { env }));
    assert.equal(Number(dated[0]!.n), 120);
    const none = json(weir(['query', '--lake', '--until', '2001-01-01', 'select count(*) as n from events', '--format', 'json'], { env }));
    assert.equal(Number(none[0]!.n), 0);
    const bad = weir(['query', '--lake', '--since', 'yesterday', 'select 1'], { env });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--since/);

    // GET /api/lake lists the source's objects and downloads them; nothing without a token.
    const auth = { authorization: `Bearer ${server.adminToken}` };
    const listed = (await (await fetch(`${server.url}/api/lake?source=default`, { headers: auth })).json()) as { objects: Array<{ key: string; size: number }> };
    assert.ok(listed.objects.length > 0);
    const first = listed.objects[0]!;
    assert.match(first.key, new RegExp(`^source=src_[A-Za-z0-9]+/date=${today}/hour=\\d\\d/p\\d+-\\d{12}-\\d{12}\\.parquet$`));
    const download = await fetch(`${server.url}/api/lake/object?source=default&key=${encodeURIComponent(first.key)}`, { headers: auth });
    assert.equal(download.status, 200);
    const bytes = Buffer.from(await download.arrayBuffer());
    assert.equal(bytes.length, first.size);
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
    assert.equal((await fetch(`${server.url}/api/lake?source=default`)).status, 401);
    const wrongKey = await fetch(`${server.url}/api/lake/object?source=default&key=${encodeURIComponent('../weir.sqlite')}`, { headers: auth });
    assert.equal(wrongKey.status, 400);

    // weir import: the original goes to the lake under uploads/, the rows into a table; twice is once.
    const csv = join(dataDir, 'crm.csv');
    writeFileSync(csv, 'email,plan,seats,since\na@example.com,pro,5,2026-01-02\nb@example.com,free,1,2026-03-04\nc@example.com,pro,12,2026-05-06\n');
    for (let round = 0; round < 2; round++) {
      const imported = weir(['import', csv, '--table', 'crm'], { env, timeoutMs: 60_000 });
      assert.equal(imported.status, 0, imported.stderr);
      assert.match(imported.stdout, /loaded 3 rows into crm/);
    }
    const crm = json(weir(['query', 'select plan, count(*) as n, sum(seats) as seats from crm group by plan order by plan', '--format', 'json'], { env }));
    assert.deepEqual(crm.map((r) => [r.plan, Number(r.n), Number(r.seats)]), [['free', 1, 1], ['pro', 2, 17]]);
    const uploads = (await (await fetch(`${server.url}/api/lake?source=default&prefix=`, { headers: auth })).json()) as { objects: Array<{ key: string }> };
    assert.equal(uploads.objects.filter((o) => o.key.startsWith('uploads/')).length, 1, 'the same file is stored once');
    const badFile = weir(['import', join(dataDir, 'x.xlsx'), '--table', 'crm'], { env });
    assert.equal(badFile.status, 2);
    assert.match(badFile.stderr, /x\.xlsx/);

    // A storage quota refuses an upload that would exceed it, and stores nothing.
    const state = await openSqliteStateStore({ file: join(dataDir, 'weir.sqlite') });
    const ws = await state.defaultWorkspace();
    await state.updateWorkspaceSettings(ws.id, { storageQuotaBytes: (await state.lakeBytes(ws.id)) + 10 });
    const big = join(dataDir, 'big.ndjson');
    writeFileSync(big, Array.from({ length: 50 }, (_, i) => JSON.stringify({ i })).join('\n'));
    const refused = weir(['import', big, '--table', 'big'], { env });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /WEIR_LAKE_QUOTA_EXCEEDED|storage quota/);
    await state.updateWorkspaceSettings(ws.id, { storageQuotaBytes: null });
    await state.close();

    // weir replay --from-lake rebuilds a lost warehouse from the lake, without duplicates.
    assert.equal(await server.stop(), 0);
    rmSync(join(dataDir, 'warehouse.duckdb'), { force: true });
    rmSync(join(dataDir, 'warehouse.duckdb.wal'), { force: true });
    for (let round = 0; round < 2; round++) {
      const r = weir(['replay', '--from-lake', '--since', today], { env, timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /reloaded 120 events/);
    }
    server = await WeirServer.start({ dataDir, env: serverEnv });
    const env2 = { ...env, WEIR_SERVER_PORT: String(server.port) };
    const rows = json(weir(['query', 'select count(*) as n, count(distinct id) as d from lake_test', '--format', 'json'], { env: env2 }));
    assert.deepEqual([Number(rows[0]!.n), Number(rows[0]!.d)], [120, 120]);
    // And through the running server (its sinks process holds DuckDB): still no duplicates.
    const live = weir(['replay', '--from-lake', '--since', today], { env: env2, timeoutMs: 60_000 });
    assert.equal(live.status, 0, live.stderr);
    const again = json(weir(['query', 'select count(*) as n from lake_test', '--format', 'json'], { env: env2 }));
    assert.equal(Number(again[0]!.n), 120);
    assert.equal(await server.stop(), 0);
  } finally {
    await server.stop().catch(() => {});
    removeDir(dataDir);
  }
});
