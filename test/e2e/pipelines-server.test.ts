import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WeirServer, basic, eventually, post, removeDir, tempDir, weir } from '../helpers/weir-process.js';
import { writeProject } from '../helpers/pipeline-project.js';

test('pipelines in weir up: a run asked for by the CLI is executed by the server, which holds DuckDB', { timeout: 120_000 }, async () => {
  const root = tempDir('weir-pserver-');
  const dir = join(root, 'pipelines');
  writeProject(
    {
      'event_counts.sql': "-- materialized: table\n-- checks:\n--   - row_count: {min: 1}\nselect event, count(*) as n from {{ source('tracks') }} group by event",
    },
    dir,
  );
  const server = await WeirServer.start({ dataDir: join(root, '.weir'), env: { WEIR_PIPELINES_DIR: dir } });
  try {
    const env = { WEIR_DATA_DIR: join(root, '.weir'), WEIR_PIPELINES_DIR: dir, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
    const batch = [...Array(5).fill('Signed Up'), ...Array(3).fill('Logged In')].map((event, i) => ({ type: 'track', event, userId: `u${i}` }));
    assert.equal((await post(server, '/v1/batch', { batch }, { authorization: basic(server.writeKey) })).status, 200);
    await eventually(() => {
      const r = weir(['query', 'select count(*) as n from tracks', '--format', 'json'], { env });
      return r.status === 0 && (JSON.parse(r.stdout.trim()) as { n: number }).n === 8;
    }, 20_000, 200);

    const run = weir(['pipelines', 'run', 'event_counts'], { env, timeoutMs: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    const r = weir(['query', 'select event, n from analytics.event_counts order by event', '--format', 'json'], { env });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; n: number }).map((x) => [x.event, Number(x.n)]), [
      ['logged_in', 3],
      ['signed_up', 5],
    ]);
    const status = weir(['pipelines', 'status', '--json'], { env });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /succeeded/);
    assert.equal(await server.stop(), 0);
  } finally {
    await server.stop().catch(() => {});
    removeDir(root);
  }
});
