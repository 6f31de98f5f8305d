import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirServer, basic, eventually, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

const ROUNDS = Number(process.env.WEIR_CRASH_ROUNDS ?? 8);

/**
 * kill -9 of the whole server (supervisor, collectors and the sinks process) at random moments
 * under load. After every restart, each messageId that got a 200 must be in the log, and the log
 * must pass its integrity check; at the end the warehouse and the lake hold every one of them
 * exactly once.
 */
test(`kill -9 during load, ${ROUNDS} rounds: no acknowledged event is lost`, { timeout: 600_000 }, async () => {
  const dataDir = tempDir('weir-crash-');
  const acked = new Set<string>();
  let writeKey = '';
  let server: WeirServer | undefined;
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      // Small Parquet files: the lake writer is uploading most of the time, so kills land mid-upload.
      server = await WeirServer.start({ dataDir, env: { WEIR_LAKE_MAX_FILE_BYTES: '4096', WEIR_LAKE_MAX_FILE_AGE_MS: '300' } });
      const current = server;
      if (round === 0) writeKey = server.writeKey;
      server.writeKey = writeKey;

      // Everything acknowledged before the last crash survived it.
      const inLog = new Set(tailAll(dataDir).map((r) => r.event.messageId as string));
      const lost = [...acked].filter((id) => !inLog.has(id));
      assert.deepEqual(lost.slice(0, 10), [], `round ${round}: ${lost.length} acknowledged events lost`);
      const verify = weir(['log', 'verify', '--json'], { env: { WEIR_DATA_DIR: dataDir } });
      assert.equal(verify.status, 0, `round ${round}: log verify: ${verify.stdout} ${verify.stderr}`);
      if (round === ROUNDS) {
        // The loader was killed as often as the collectors: the warehouse holds every
        // acknowledged event, each once.
        const env = { WEIR_DATA_DIR: dataDir, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
        const counts = await eventually(() => {
          const r = weir(['query', 'select count(*) as n, count(distinct id) as d from tracks', '--format', 'json'], { env });
          if (r.status !== 0) return undefined;
          const row = JSON.parse(r.stdout.trim()) as { n: number; d: number };
          return row.n >= acked.size ? row : undefined;
        }, 30_000, 250);
        assert.equal(counts.n, counts.d, 'no duplicates in the warehouse');
        // The lake writer was killed as often, many times mid-upload: after a drain the lake
        // holds every acknowledged event, each once.
        assert.equal(await server.stop(), 0);
        const lake = weir(['query', '--lake', 'select message_id from events', '--format', 'json', '--max-rows', '10000000'], { env });
        assert.equal(lake.status, 0, lake.stderr);
        const ids = lake.stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { message_id: string }).message_id);
        const inLake = new Set(ids);
        assert.equal(inLake.size, ids.length, `${ids.length - inLake.size} duplicates in the lake`);
        const missing = [...acked].filter((id) => !inLake.has(id));
        assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged events missing from the lake`);
        break;
      }

      let stop = false;
      let n = 0;
      const sender = async (s: number) => {
        while (!stop) {
          const ids = Array.from({ length: 10 }, () => `r${round}-s${s}-${n++}`);
          try {
            const res = await fetch(`${current.url}/v1/batch`, {
              method: 'POST',
              headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
              body: JSON.stringify({ batch: ids.map((id) => ({ type: 'track', event: 'Crash Test', userId: 'u', messageId: id })) }),
            });
            if (res.status === 200) for (const id of ids) acked.add(id);
            await res.arrayBuffer();
          } catch {
            // connection refused or reset by the crash: not acknowledged
          }
        }
      };
      const senders = Array.from({ length: 8 }, (_, s) => sender(s));
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 600));
      await server.crash();
      stop = true;
      await Promise.all(senders);
    }
    assert.ok(acked.size > ROUNDS * 50, `load was applied (${acked.size} acknowledged)`);
  } finally {
    await server?.crash();
    removeDir(dataDir);
  }
});
