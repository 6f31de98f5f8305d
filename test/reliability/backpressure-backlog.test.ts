import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { WeirServer, basic, eventually, removeDir, tempDir } from '../helpers/weir-process.js';
import { POSTGRES_URL } from '../helpers/warehouse-fixtures.js';
import { assertExactlyOnce, batchOf } from './backpressure-helpers.js';

const BUDGET = 120_000;

/**
 * A TCP proxy in front of PostgreSQL that can cut the warehouse off (existing connections reset,
 * new ones closed at once) and restore it: the network outage a warehouse loader meets.
 */
class Outage {
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(private readonly server: Server) {}

  static async start(target: { host: string; port: number }): Promise<Outage> {
    let outage!: Outage;
    const server = createServer((client) => {
      if (outage.cut) return client.destroy();
      const upstream = connect(target.port, target.host);
      for (const s of [client, upstream]) {
        outage.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          outage.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    outage = new Outage(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return outage;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  down(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  up(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

interface Readyz {
  status: string;
  checks: { backlog?: { bytes: number; budgetBytes: number; full: boolean }; warehouse?: { ok: boolean; lag: number } };
}

async function readyz(url: string): Promise<{ status: number; body: Readyz }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz };
}

/**
 * The sink is down for a long stretch: `weir up` loads a real PostgreSQL through a proxy that is
 * cut. The collector keeps accepting until the log holds `log.backlogBudgetBytes` that the
 * warehouse loader has not read, then answers 503 WEIR_INGEST_BACKLOG_FULL with Retry-After and
 * /readyz says why. Once the warehouse is back the backlog drains, ingest resumes, and every
 * acknowledged messageId is in the warehouse exactly once.
 */
test('sink down for long: 503 at the backlog budget, readyz says why, then drain with 0 loss and 0 duplicates', { timeout: 180_000 }, async (ctx) => {
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  try {
    await admin.connect();
  } catch (err) {
    if (process.env.WEIR_REQUIRE_SERVICES === '1') throw err;
    return ctx.skip(`SKIP postgres: 127.0.0.1:5432 unreachable (${(err as Error).message})`);
  }
  const database = `weir_backlog_${process.pid}_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${database}`);
  const outage = await Outage.start({ host: '127.0.0.1', port: 5432 });
  const dataDir = tempDir('weir-backlog-');
  let server: WeirServer | undefined;
  try {
    server = await WeirServer.start({
      dataDir,
      workers: 2,
      env: {
        WEIR_WAREHOUSE_ENGINE: 'postgres',
        WEIR_WAREHOUSE_URL: `postgres://postgres@127.0.0.1:${outage.port}/${database}`,
        WEIR_WAREHOUSE_BATCH_MAX_WAIT_MS: '200',
        WEIR_LAKE_ENABLED: 'false',
        WEIR_LOG_SEGMENT_BYTES: '8192',
        WEIR_LOG_BACKLOG_BUDGET_BYTES: String(BUDGET),
      },
    });
    const url = server.url;
    const acked: string[] = [];
    let batchNo = 0;
    const send = async (ids: string[]) => {
      const res = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(server!.writeKey), 'content-type': 'application/json' },
        body: batchOf(ids, 400),
      });
      const body = (await res.json()) as { code?: string };
      return { status: res.status, code: body.code, retryAfter: res.headers.get('retry-after') };
    };
    const nextIds = () => Array.from({ length: 20 }, (_, i) => `b-${batchNo}-${i}`);

    // Warm: loaded and caught up.
    for (; batchNo < 3; batchNo++) {
      const ids = nextIds();
      assert.equal((await send(ids)).status, 200);
      acked.push(...ids);
    }
    await eventually(async () => (await readyz(url)).status === 200 && (await readyz(url)).body.checks.warehouse?.lag === 0, 60_000, 250);

    outage.down();
    let refusedIds: string[] | undefined;
    for (; refusedIds === undefined; batchNo++) {
      assert.ok(batchNo < 2000, 'the collector never refused');
      const ids = nextIds();
      const answer = await send(ids);
      if (answer.status === 200) {
        acked.push(...ids);
        continue;
      }
      assert.deepEqual(answer, { status: 503, code: 'WEIR_INGEST_BACKLOG_FULL', retryAfter: '5' });
      refusedIds = ids;
    }
    const ackedBytes = acked.length * 450;
    assert.ok(ackedBytes > BUDGET / 2, `refused after only ${acked.length} events`);
    const full = await eventually(async () => {
      const r = await readyz(url);
      return r.status === 503 && r.body.checks.backlog?.full ? r.body : undefined;
    }, 10_000, 100);
    assert.equal(full.checks.backlog!.budgetBytes, BUDGET);
    // Over the budget by at most what was accepted between two measurements (1 s apart).
    assert.ok(full.checks.backlog!.bytes < 4 * BUDGET, `backlog ${full.checks.backlog!.bytes} bytes`);
    // Still refused a while later: the sink is still down.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await send(refusedIds)).code, 'WEIR_INGEST_BACKLOG_FULL');

    outage.up();
    // The client retries the refused batch until it is taken (Retry-After, shortened for the test).
    await eventually(async () => (await send(refusedIds!)).status === 200, 90_000, 500);
    acked.push(...refusedIds);
    // Each collector process sees the drain at its next measurement (within a second): retry.
    for (let i = 0; i < 3; i++, batchNo++) {
      const ids = nextIds();
      await eventually(async () => (await send(ids)).status === 200, 10_000, 200);
      acked.push(...ids);
    }
    await eventually(async () => {
      const r = await readyz(url);
      return r.status === 200 && r.body.checks.warehouse?.lag === 0 && !r.body.checks.backlog?.full;
    }, 90_000, 250);

    const wh = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:5432/${database}` });
    await wh.connect();
    try {
      const rows = (await wh.query<{ id: string }>('SELECT id FROM "default".tracks')).rows.map((r) => r.id);
      assertExactlyOnce(acked, rows);
      assert.equal(rows.length, acked.length, 'nothing but the acknowledged events');
    } finally {
      await wh.end();
    }
    assert.equal(await server.stop(), 0);
    server = undefined;
  } finally {
    await server?.crash();
    await outage.close();
    removeDir(dataDir);
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
});
