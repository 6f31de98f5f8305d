import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { getBuffer } from '../../src/blob/blob-store.js';
import { openFsBlobStore } from '../../src/blob/fs/index.js';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { blobStoreContract, isCode } from './blob-store.contract.js';

const MIB = 1024 * 1024;

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weir-fs-blob-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

blobStoreContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weir-fs-blob-'));
  return { store: await openFsBlobStore({ dir: join(dir, 'lake') }), partSize: 5 * MIB, cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('fs blob store', () => {
  it('openBlobStore defaults to <dataDir>/lake; localPath is the absolute file path', () =>
    inTempDir(async (dir) => {
      const store = await openBlobStore({}, { dataDir: dir });
      assert.equal(store.kind, 'fs');
      await store.put('source=s1/date=2026-11-22/hour=14/00000-00099.parquet', Buffer.from('PAR1'));
      const path = store.localPath('source=s1/date=2026-11-22/hour=14/00000-00099.parquet');
      assert.equal(path, join(dir, 'lake', 'source=s1', 'date=2026-11-22', 'hour=14', '00000-00099.parquet'));
      assert.equal((await stat(path!)).size, 4);
      const other = await openBlobStore({ kind: 'fs', dir: join(dir, 'elsewhere') }, { dataDir: dir });
      assert.equal(other.localPath('x'), join(dir, 'elsewhere', 'x'));
    }));

  it('failed and aborted puts leave no temporary file behind', () =>
    inTempDir(async (dir) => {
      const store = await openFsBlobStore({ dir });
      const boom = new Error('boom');
      const failing = new Readable({ read() { this.push(Buffer.alloc(1000)); this.destroy(boom); } });
      await assert.rejects(store.put('a/x', failing), (err) => err === boom);
      await assert.rejects(store.put('a/x', Readable.from([Buffer.alloc(10)]), { signal: AbortSignal.abort() }), { name: 'AbortError' });
      assert.deepEqual(await readdir(join(dir, '.tmp')), []);
      assert.deepEqual(await readdir(dir), ['.tmp']);
    }));

  it('open removes temporary files of puts that died long ago, and keeps recent ones', () =>
    inTempDir(async (dir) => {
      await openFsBlobStore({ dir });
      await writeFile(join(dir, '.tmp', 'old.part'), 'half a file');
      await writeFile(join(dir, '.tmp', 'recent.part'), 'a put in progress');
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
      await utimes(join(dir, '.tmp', 'old.part'), twoDaysAgo, twoDaysAgo);
      await openFsBlobStore({ dir });
      assert.deepEqual(await readdir(join(dir, '.tmp')), ['recent.part']);
    }));

  it('a key cannot also be the folder of other keys in a local directory', () =>
    inTempDir(async (dir) => {
      const store = await openFsBlobStore({ dir });
      await store.put('a', Buffer.from('file'));
      await assert.rejects(store.put('a/b', Buffer.from('x')), isCode('WEIR_BLOB_INVALID_KEY'));
      await store.put('c/d', Buffer.from('x'));
      await assert.rejects(store.put('c', Buffer.from('x')), isCode('WEIR_BLOB_INVALID_KEY'));
      assert.equal(await store.stat('c'), undefined);
      await assert.rejects(store.get('c'), isCode('WEIR_BLOB_NOT_FOUND'));
      assert.deepEqual(await readdir(join(dir, '.tmp')), []);
      assert.equal((await getBuffer(store, 'a')).toString(), 'file');
    }));

  it('delete removes folders it leaves empty, never the root', () =>
    inTempDir(async (dir) => {
      const store = await openFsBlobStore({ dir: join(dir, 'lake') });
      await store.put('source=s1/date=2026-11-22/hour=14/a.parquet', Buffer.from('a'));
      await store.put('source=s1/date=2026-11-22/hour=15/b.parquet', Buffer.from('b'));
      await store.delete('source=s1/date=2026-11-22/hour=14/a.parquet');
      assert.deepEqual(await readdir(join(dir, 'lake', 'source=s1', 'date=2026-11-22')), ['hour=15']);
      await store.delete('source=s1/date=2026-11-22/hour=15/b.parquet');
      assert.deepEqual(await readdir(join(dir, 'lake')), ['.tmp']);
      await store.put('source=s1/date=2026-11-22/hour=15/b.parquet', Buffer.from('b'));
      assert.equal((await getBuffer(store, 'source=s1/date=2026-11-22/hour=15/b.parquet')).toString(), 'b');
    }));

  it('puts and deletes racing in one folder never lose a put', () =>
    inTempDir(async (dir) => {
      const store = await openFsBlobStore({ dir });
      const keys = Array.from({ length: 50 }, (_, i) => `race/h=${i % 3}/k${i}`);
      await Promise.all(keys.map(async (k, i) => {
        await store.put(k, Buffer.from(k));
        if (i % 2 === 0) await store.delete(k);
      }));
      const kept = keys.filter((_, i) => i % 2 === 1).sort();
      const listed: string[] = [];
      for await (const info of store.list('race/')) listed.push(info.key);
      assert.deepEqual(listed.sort(), kept);
    }));
});
