import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { BlobStore } from '../../src/blob/blob-store.js';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { encodeAcceptedRecord } from '../../src/events/log-record.js';
import type { EventLog } from '../../src/log/event-log.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { parseEventFileKey } from '../../src/lake/lake-layout.js';
import { queryLake, readLakeEvents } from '../../src/lake/lake-reader.js';
import { LAKE_GROUP, runLakeWriter } from '../../src/lake/lake-writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { startAzurite } from '../helpers/azurite.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3rver.js';
import { openSqliteStateStore } from '../../src/state/sqlite/index.js';
import type { StateStore } from '../../src/state/state-store.js';

interface Fixture {
  dir: string;
  log: EventLog;
  blob: BlobStore;
  state: StateStore;
  close(): Promise<void>;
}

async function fixture(remote?: () => Promise<{ blob: BlobStore; stop(): Promise<void> }>): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-lake-'));
  const log = await openFileEventLog({ dir: join(dir, 'log') });
  const server = remote ? await remote() : undefined;
  const blob = server?.blob ?? (await openBlobStore({ kind: 'fs', dir: join(dir, 'lake') }, { dataDir: dir }));
  const state = await openSqliteStateStore({ file: join(dir, 'weir.sqlite') });
  await state.bootstrap();
  return {
    dir,
    log,
    blob,
    state,
    async close() {
      await log.close();
      await blob.close();
      await server?.stop();
      await state.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A known event set: two sources, three hours, two log partitions, varied properties. */
function knownEvents(n: number): Array<{ sourceId: string; partition: number; event: Record<string, unknown> }> {
  return Array.from({ length: n }, (_, i) => ({
    sourceId: Math.floor(i / 7) % 3 === 0 ? 'src_app' : 'src_web',
    partition: i % 2,
    event: {
      type: i % 5 === 0 ? 'page' : 'track',
      event: i % 5 === 0 ? undefined : `Event ${i % 7}`,
      name: i % 5 === 0 ? 'Home' : undefined,
      messageId: `m-${i}`,
      anonymousId: `a-${i % 11}`,
      userId: i % 4 === 0 ? `u-${i}` : undefined,
      timestamp: new Date(Date.UTC(2026, 10, 22, 10 + (i % 3), i % 60)).toISOString(),
      receivedAt: new Date(Date.UTC(2026, 10, 22, 10 + (i % 3), i % 60, 1)).toISOString(),
      properties: { i, label: `x${i}`, nested: { ok: i % 2 === 0 }, text: 'é ✓ "quoted"' },
      context: { library: { name: 'test' }, page: { path: `/p/${i % 13}` } },
    },
  }));
}

async function append(log: EventLog, events: ReturnType<typeof knownEvents>): Promise<void> {
  const writers = [await log.openWriter(0), await log.openWriter(1)];
  for (const e of events) await writers[e.partition]!.append([encodeAcceptedRecord(e.sourceId, e.event)]);
  for (const w of writers) await w.close();
}

/** Runs the writer until it has read everything, then drains it (cutting every open file). */
async function writeAll(fx: Fixture, extra: Partial<Parameters<typeof runLakeWriter>[0]> & { stopWhen?: () => boolean } = {}): Promise<void> {
  const stop = new AbortController();
  const { stopWhen = () => true, ...options } = extra;
  await runLakeWriter({
    log: fx.log,
    blob: fx.blob,
    state: fx.state,
    workspaceOf: async () => 'ws_test',
    logger: createLogger('silent'),
    signal: stop.signal,
    maxFileBytes: 4096,
    onIdle: () => stopWhen() && stop.abort(),
    ...options,
  });
}

async function lakeIds(fx: Fixture, sourceId: string): Promise<string[]> {
  const r = await queryLake({ blob: fx.blob, sourceId, sql: 'select message_id from events order by message_id', cacheDir: join(fx.dir, 'cache'), maxRows: 1e6 });
  return r.rows.map((row) => String(row[0]));
}

test('a lake written from a known event set reads back as exactly that set', async () => {
  const fx = await fixture();
  try {
    const events = knownEvents(600);
    await append(fx.log, events);
    await writeAll(fx);

    // Hive layout, files named by offset range, several files per partition (rotation by size).
    const keys: string[] = [];
    for await (const o of fx.blob.list('')) keys.push(o.key);
    assert.ok(keys.length > 6, `expected rotation into several files, got ${keys.length}`);
    for (const k of keys) assert.ok(parseEventFileKey(k), `unexpected key ${k}`);

    for (const sourceId of ['src_app', 'src_web']) {
      const expected = events.filter((e) => e.sourceId === sourceId).map((e) => String(e.event.messageId)).sort();
      assert.deepEqual(await lakeIds(fx, sourceId), expected);
    }

    // Any engine reading the directory with hive partitioning sees the same, with typed columns.
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const glob = join(fx.dir, 'lake', '**', '*.parquet');
    const r = await conn.runAndReadAll(
      `select source, count(*) as n, count(distinct message_id) as d, min(timestamp)::varchar as t0, count(distinct hour) as hours
       from read_parquet('${glob}', hive_partitioning = true) group by source order by source`,
    );
    assert.deepEqual(
      r.getRowObjectsJson().map((o) => [o.source, Number(o.n), Number(o.d), Number(o.hours)]),
      [['src_app', 203, 203, 3], ['src_web', 397, 397, 3]],
    );
    conn.closeSync();
    db.closeSync();

    // Every field comes back as sent.
    const back = new Map<string, Record<string, unknown>>();
    for await (const batch of readLakeEvents(fx.blob, 'src_web', { cacheDir: join(fx.dir, 'cache') })) for (const e of batch) back.set(String(e.messageId), e);
    for (const e of events.filter((x) => x.sourceId === 'src_web')) {
      const got = back.get(String(e.event.messageId));
      const want = Object.fromEntries(Object.entries(e.event).filter(([, v]) => v !== undefined));
      assert.deepEqual(got, want);
    }
    // The writer committed everything it stored.
    assert.deepEqual((await fx.log.groups()).get(LAKE_GROUP), new Map([[0, 300], [1, 300]]));
  } finally {
    await fx.close();
  }
});

/** A store that dies (like kill -9) right after its Nth completed upload, before anything else happens. */
function dyingAfter(inner: BlobStore, n: number): BlobStore {
  let puts = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<BlobStore['put']>) => {
          const r = await target.put(...args);
          if (++puts === n) throw new Error('simulated crash after upload');
          return r;
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

test('a writer that dies after uploads it did not commit rewrites the same objects: nothing missing, nothing twice', async () => {
  const fx = await fixture();
  try {
    const events = knownEvents(900);
    await append(fx.log, events);
    // Crash after the 3rd, then the 5th upload of the next run, then a clean run.
    for (const n of [3, 5]) {
      await assert.rejects(writeAll({ ...fx, blob: dyingAfter(fx.blob, n) }), /simulated crash/);
    }
    const before = new Set<string>();
    for await (const o of fx.blob.list('')) before.add(o.key);
    // Cuts after a restart need not fall where they would have (age, another size setting): the
    // plans, not luck, must bring back the same files.
    await writeAll(fx, { maxFileBytes: 1500 });
    const after: string[] = [];
    for await (const o of fx.blob.list('')) after.push(o.key);
    for (const k of before) assert.ok(after.includes(k), `object ${k} from before the crash was not reused`);
    for (const sourceId of ['src_app', 'src_web']) {
      const expected = events.filter((e) => e.sourceId === sourceId).map((e) => String(e.event.messageId)).sort();
      assert.deepEqual(await lakeIds(fx, sourceId), expected, `${sourceId}: every event exactly once`);
    }
  } finally {
    await fx.close();
  }
});

test('files are cut by age as well as by size', async () => {
  const fx = await fixture();
  try {
    await append(fx.log, knownEvents(20));
    const files: string[] = [];
    let polls = 0;
    await writeAll(fx, {
      maxFileBytes: undefined,
      maxFileAgeMs: 1,
      onFile: (f) => files.push(f.key),
      // Age, not the drain, must have cut them: stop only once files exist.
      stopWhen: () => files.length > 0 || ++polls > 50,
    });
    assert.ok(files.length >= 6, `expected files cut by age, got ${files.length}`);
    const stored = await fx.state.listLakeFiles({ kind: 'events', state: 'stored' });
    assert.equal(stored.reduce((n, f) => n + f.events, 0), 20);
  } finally {
    await fx.close();
  }
});

const REMOTES = {
  's3 (s3rver)': async () => {
    const s3 = await startS3rver(['lake']);
    const blob = await openBlobStore({ kind: 's3', s3: { bucket: 'lake', prefix: 'weir', endpoint: s3.endpoint, forcePathStyle: true, ...S3RVER_CREDENTIALS } }, { dataDir: '' });
    return { blob, stop: s3.stop };
  },
  'azure (Azurite)': async () => {
    const az = await startAzurite();
    const { BlobServiceClient } = await import('@azure/storage-blob');
    await BlobServiceClient.fromConnectionString(az.connectionString).getContainerClient('lake').create();
    const blob = await openBlobStore({ kind: 'azure', azure: { connectionString: az.connectionString, container: 'lake', prefix: 'weir' } }, { dataDir: '' });
    return { blob, stop: az.stop };
  },
};

for (const [name, remote] of Object.entries(REMOTES)) {
  test(`a remote lake on ${name}: written, then queried through a cache of only the needed dates`, async () => {
    const fx = await fixture(remote);
    try {
      const events = knownEvents(300).map((e, i) => {
        // Two days, so a date filter has something to leave out.
        const day = i % 2 === 0 ? '2026-11-21' : '2026-11-22';
        return { ...e, event: { ...e.event, receivedAt: `${day}${String(e.event.receivedAt).slice(10)}` } as Record<string, unknown> };
      });
      await append(fx.log, events);
      await writeAll(fx);
      assert.equal(fx.blob.localPath('x'), undefined);
      for (const sourceId of ['src_app', 'src_web']) {
        const expected = events.filter((e) => e.sourceId === sourceId).map((e) => String(e.event.messageId)).sort();
        assert.deepEqual(await lakeIds(fx, sourceId), expected);
      }
      const cache = join(fx.dir, 'day-cache');
      const r = await queryLake({ blob: fx.blob, sourceId: 'src_web', sql: 'select count(*) from events', cacheDir: cache, since: '2026-11-22' });
      assert.equal(Number(r.rows[0]![0]), events.filter((e) => e.sourceId === 'src_web' && String(e.event.receivedAt).startsWith('2026-11-22')).length);
      const cached = readdirSync(join(cache, 'source=src_web'));
      assert.deepEqual(cached, ['date=2026-11-22'], 'only the requested date was downloaded');
    } finally {
      await fx.close();
    }
  });
}
