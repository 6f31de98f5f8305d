import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openNatsEventLog } from '../../src/log/nats/index.js';
import { decodeLogRecord } from '../../src/events/log-record.js';
import { WeirServer, basic, eventually, post, removeDir, tempDir } from '../helpers/weir-process.js';
import { deleteStreams, NATS_URL, natsUnreachable, uniqueStream } from '../helpers/nats.js';
import { requireOrSkip } from '../helpers/pipeline-fixtures.js';
import { dropPostgresSchema, POSTGRES_URL, postgresUnreachable } from '../helpers/warehouse-fixtures.js';

describe('weir up on NATS JetStream and Postgres metadata', () => {
  let skip: string | undefined;
  let server: WeirServer | undefined;
  let dataDir: string;
  const stream = uniqueStream('WEIRUP');
  const schema = stream.toLowerCase();

  before(async () => {
    skip = (await natsUnreachable()) ?? (await postgresUnreachable());
    if (skip !== undefined) return;
    dataDir = tempDir();
    server = await WeirServer.start({
      dataDir,
      workers: 1,
      env: {
        WEIR_LOG_BACKEND: 'nats',
        WEIR_LOG_NATS_SERVERS: NATS_URL,
        WEIR_LOG_NATS_STREAM: stream,
        WEIR_LOG_NATS_SUBJECT_PREFIX: schema,
        WEIR_STATE_BACKEND: 'postgres',
        WEIR_STATE_POSTGRES_URL: POSTGRES_URL,
        WEIR_STATE_POSTGRES_SCHEMA: schema,
        WEIR_LAKE_ENABLED: 'false',
      },
    });
  });
  after(async () => {
    if (server) {
      // A drain that hangs must not leave the process group behind on a shared machine.
      const code = await Promise.race([server.stop(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
      if (code === 'hung') await server.crash();
      assert.equal(code, 0, 'SIGTERM drains and exits 0');
    }
    if (skip !== undefined) return;
    removeDir(dataDir);
    await deleteStreams(stream);
    await dropPostgresSchema(schema);
  });

  it('acknowledges events once JetStream holds them, stores a resent batch once, and loads them', async (t: TestContext) => {
    if (!requireOrSkip('NATS and PostgreSQL', skip === undefined ? {} : { skip }, (r) => t.skip(r))) return;
    const s = server!;
    // The metadata is in Postgres, the log in JetStream: nothing of either under the data dir.
    assert.ok(!existsSync(join(dataDir, 'weir.sqlite')));
    assert.ok(!existsSync(join(dataDir, 'log')));
    const batch = {
      batch: [
        { type: 'track', event: 'Signed Up', userId: 'u1', messageId: 'nats-e2e-1' },
        { type: 'track', event: 'Signed Up', userId: 'u2', messageId: 'nats-e2e-2' },
      ],
    };
    for (let i = 0; i < 2; i++) {
      const r = await post(s, '/v1/batch', batch, { authorization: basic(s.writeKey) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
    }
    // The 200s came after the acks: the records are in the stream now, once each.
    const log = await openNatsEventLog({ servers: [NATS_URL], stream: `${stream}_EVENTS`, subjectPrefix: `${schema}.events` });
    try {
      assert.deepEqual((await log.stats()).map((st) => [st.partition, st.firstOffset, st.nextOffset]), [[0, 0, 2]]);
      const tail = await log.consumer('e2e', { ephemeral: true });
      const records = await tail.poll({ maxRecords: 10, maxWaitMs: 2000 });
      const ids = records.map((r) => {
        const rec = decodeLogRecord(r.value);
        return rec.kind === 'event' ? rec.event.messageId : undefined;
      });
      assert.deepEqual(ids, ['nats-e2e-1', 'nats-e2e-2']);
      // The loader commits its offset in JetStream once the warehouse holds the batch.
      await eventually(async () => (await log.groups()).get('warehouse')?.get(0) === 2, 20_000);
    } finally {
      await log.close();
    }
    const client = new pg.Client({ connectionString: POSTGRES_URL });
    await client.connect();
    try {
      const { rows } = await client.query(`select write_key from ${client.escapeIdentifier(schema)}.sources`);
      assert.deepEqual(rows, [{ write_key: s.writeKey }]);
    } finally {
      await client.end();
    }
  });
});
