import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { WeirError } from '../../src/errors/catalogue.js';
import { compareKeys, downloadToFile, getBuffer, type BlobInfo, type BlobStore } from '../../src/blob/blob-store.js';

/** What an adapter's test file hands the contract. */
export interface BlobStoreFixture {
  /** A store over an empty namespace. */
  store: BlobStore;
  /** Bodies larger than this go up in parts (the fixture sets it small). */
  partSize: number;
  /** Keys per list page the fixture configured (S3, Azure); the paging case lists several pages' worth. */
  pageSize?: number;
  /**
   * Set when the server lists in an order other than UTF-8 byte order for keys where a file and
   * a folder share a start (`a-c` before `a/b`); the case testing that order is skipped with it.
   */
  listOrderDefect?: string;
  /** Set when the server's multipart completion is not atomic; the concurrent overwrite case is skipped with it. */
  overwriteDefect?: string;
  cleanup(): Promise<void>;
}

/**
 * The cases every BlobStore adapter must pass. Call it from the adapter's test file with a
 * factory that starts what the store needs (s3rver, Azurite) and returns a store over an empty
 * namespace.
 *
 * @example
 * ```ts
 * blobStoreContract('fs', async () => ({ store: await openFsBlobStore({ dir }), partSize: 5 << 20, cleanup }));
 * ```
 */
export function blobStoreContract(name: string, factory: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fx: BlobStoreFixture;
    let store: BlobStore;
    before(async () => {
      fx = await factory();
      store = fx.store;
    });
    after(async () => {
      await fx?.store.close();
      await fx?.cleanup();
    });

    test('put and get a Buffer and a Uint8Array; stat and list report the size', async () => {
      const body = randomBytes(1000);
      assert.deepEqual(await store.put('rt/buffer.bin', body), { key: 'rt/buffer.bin', size: 1000 });
      assert.deepEqual(await getBuffer(store, 'rt/buffer.bin'), body);
      const u8 = new Uint8Array(body.buffer, body.byteOffset + 10, 20);
      assert.deepEqual(await store.put('rt/u8.bin', u8, { contentType: 'application/octet-stream' }), { key: 'rt/u8.bin', size: 20 });
      assert.deepEqual(await getBuffer(store, 'rt/u8.bin'), body.subarray(10, 30));
      const info = await store.stat('rt/buffer.bin');
      assert.equal(info?.key, 'rt/buffer.bin');
      assert.equal(info?.size, 1000);
      assert.ok(info?.lastModified instanceof Date && !Number.isNaN(info.lastModified.getTime()));
      const listed = await collect(store.list('rt/'));
      assert.deepEqual(listed.map((i) => [i.key, i.size]), [['rt/buffer.bin', 1000], ['rt/u8.bin', 20]]);
      assert.ok(listed.every((i) => i.lastModified instanceof Date && !Number.isNaN(i.lastModified.getTime())));
    });

    test('an empty body is an object of size 0', async () => {
      assert.deepEqual(await store.put('rt/empty', Buffer.alloc(0)), { key: 'rt/empty', size: 0 });
      assert.equal((await getBuffer(store, 'rt/empty')).length, 0);
      assert.equal((await store.stat('rt/empty'))?.size, 0);
      assert.equal((await store.put('rt/stream-empty', Readable.from([]))).size, 0);
      assert.equal((await store.stat('rt/stream-empty'))?.size, 0);
    });

    test('a stream larger than the part size round-trips, whole and by ranges', async () => {
      const size = 2 * fx.partSize + Math.floor(fx.partSize / 3);
      const src = generated(size);
      assert.deepEqual(await store.put('big/stream.bin', src.stream), { key: 'big/stream.bin', size });
      assert.equal((await store.stat('big/stream.bin'))?.size, size);
      const back = await getBuffer(store, 'big/stream.bin');
      assert.equal(back.length, size);
      assert.equal(sha256(back), src.sha256());
      const whole = src.bytes();
      for (const [offset, length] of [[fx.partSize - 7, 20], [1, 2], [size - 5, undefined], [size - 3, 100]] as const) {
        const part = await getBuffer(store, 'big/stream.bin', { range: { offset, ...(length !== undefined ? { length } : {}) } });
        assert.ok(part.equals(whole.subarray(offset, length === undefined ? undefined : offset + length)), `range ${offset}+${length}`);
      }
    });

    test('ranges are clipped to the object; empty ranges and ranges past the end are empty', async () => {
      const body = randomBytes(100);
      await store.put('range/x', body);
      assert.deepEqual(await getBuffer(store, 'range/x', { range: { offset: 10, length: 5 } }), body.subarray(10, 15));
      assert.deepEqual(await getBuffer(store, 'range/x', { range: { offset: 95 } }), body.subarray(95));
      assert.deepEqual(await getBuffer(store, 'range/x', { range: { offset: 98, length: 10 } }), body.subarray(98));
      assert.equal((await getBuffer(store, 'range/x', { range: { offset: 100 } })).length, 0);
      assert.equal((await getBuffer(store, 'range/x', { range: { offset: 200, length: 3 } })).length, 0);
      assert.equal((await getBuffer(store, 'range/x', { range: { offset: 0, length: 0 } })).length, 0);
      await assert.rejects(store.get('range/missing', { range: { offset: 0, length: 0 } }), isCode('WEIR_BLOB_NOT_FOUND'));
      await assert.rejects(store.get('range/missing', { range: { offset: 5 } }), isCode('WEIR_BLOB_NOT_FOUND'));
      await assert.rejects(store.get('range/x', { range: { offset: -1 } }), RangeError);
    });

    test('a put overwrites: one object, the new bytes', async () => {
      await store.put('ow/k', Buffer.from('first version, longer'));
      await store.put('ow/k', Buffer.from('second'));
      assert.equal((await getBuffer(store, 'ow/k')).toString(), 'second');
      assert.deepEqual((await collect(store.list('ow/'))).map((i) => [i.key, i.size]), [['ow/k', 6]]);
    });

    test('missing: stat is undefined, get is WEIR_BLOB_NOT_FOUND (404, not retriable)', async () => {
      assert.equal(await store.stat('missing/nothing.parquet'), undefined);
      await assert.rejects(store.get('missing/nothing.parquet'), (err: unknown) => {
        assert.ok(err instanceof WeirError, String(err));
        assert.equal(err.code, 'WEIR_BLOB_NOT_FOUND');
        assert.equal(err.status, 404);
        assert.equal(err.retriable, false);
        return true;
      });
      await assert.rejects(getBuffer(store, 'missing/nothing.parquet'), isCode('WEIR_BLOB_NOT_FOUND'));
    });

    test('list: plain string prefixes, sorted by key', async () => {
      const keys = ['sort/b=2/x.parquet', 'sort/b=10/x.parquet', 'sort/a', 'sort/b=1/y.parquet', 'sort/b=1/x.parquet', 'sort/c.parquet', 'sort/ä/1', 'sort/Z', 'sort/b=1x'];
      await Promise.all(keys.map((k) => store.put(k, Buffer.from(k))));
      const expected = ['sort/Z', 'sort/a', 'sort/b=1/x.parquet', 'sort/b=1/y.parquet', 'sort/b=10/x.parquet', 'sort/b=1x', 'sort/b=2/x.parquet', 'sort/c.parquet', 'sort/ä/1'];
      assert.deepEqual(await keysOf(store.list('sort/')), expected);
      assert.deepEqual(await keysOf(store.list('sort')), expected);
      assert.deepEqual(await keysOf(store.list('sort/b=1')), ['sort/b=1/x.parquet', 'sort/b=1/y.parquet', 'sort/b=10/x.parquet', 'sort/b=1x']);
      assert.deepEqual(await keysOf(store.list('sort/b=1/')), ['sort/b=1/x.parquet', 'sort/b=1/y.parquet']);
      assert.deepEqual(await keysOf(store.list('sort/b=1/x')), ['sort/b=1/x.parquet']);
      assert.deepEqual(await keysOf(store.list('sort/ä')), ['sort/ä/1']);
      assert.deepEqual(await keysOf(store.list('sort/a')), ['sort/a']);
      assert.deepEqual(await keysOf(store.list('sort/nothing')), []);
      assert.deepEqual(await keysOf(store.list('nothing-here/')), []);
      const all = await keysOf(store.list());
      assert.ok(expected.every((k) => all.includes(k)));
      assert.deepEqual(all, [...all].sort(compareKeys));
      assert.equal(new Set(all).size, all.length);
    });

    test('list orders a file before a folder that sorts after it (a-c, a.b, a/b, a0)', async (ctx) => {
      if (fx.listOrderDefect) return ctx.skip(fx.listOrderDefect);
      for (const k of ['order/a0', 'order/a/b', 'order/a.b', 'order/a-c']) await store.put(k, Buffer.from(k));
      assert.deepEqual(await keysOf(store.list('order/')), ['order/a-c', 'order/a.b', 'order/a/b', 'order/a0']);
    });

    test('list pages through more objects than one page holds', async () => {
      const n = 121;
      if (fx.pageSize !== undefined) assert.ok(fx.pageSize * 4 < n, 'the fixture pages by fewer keys');
      const keys = Array.from({ length: n }, (_, i) => `page/${String(i).padStart(3, '0')}`);
      await inBatches(keys, 64, (k) => store.put(k, Buffer.from(k)));
      const listed = await keysOf(store.list('page/'));
      assert.equal(listed.length, n);
      assert.deepEqual(listed, keys);
      assert.deepEqual(await keysOf(store.list('page/1')), keys.slice(100));
      assert.deepEqual(await keysOf(store.list('page/05')), keys.slice(50, 60));
    });

    test('delete removes; deleting a missing key or a folder of keys is not an error', async () => {
      await store.put('del/x', Buffer.from('x'));
      await store.put('del/dir/y', Buffer.from('y'));
      await store.delete('del/x');
      assert.equal(await store.stat('del/x'), undefined);
      await assert.rejects(store.get('del/x'), isCode('WEIR_BLOB_NOT_FOUND'));
      await store.delete('del/x');
      await store.delete('del/never-existed/at/all');
      await store.delete('del/dir');
      assert.deepEqual(await keysOf(store.list('del/')), ['del/dir/y']);
      await store.delete('del/dir/y');
      assert.deepEqual(await keysOf(store.list('del/')), []);
      await store.put('del/dir/y', Buffer.from('again'));
      assert.equal((await getBuffer(store, 'del/dir/y')).toString(), 'again');
    });

    test('invalid keys are WEIR_BLOB_INVALID_KEY (400) for every operation', async () => {
      const bad = ['', '/abs/x', 'a/../b', '..', '../x', 'a/..', 'a\\b', 'a\0b', 'a//b', 'a/', './a', 'a/./b', '.tmp/x', 'x'.repeat(256), 'a\uD800b', `${'ab/'.repeat(400)}x`];
      for (const key of bad) {
        const label = JSON.stringify(key);
        await assert.rejects(store.put(key, Buffer.from('x')), isCode('WEIR_BLOB_INVALID_KEY', 400), label);
        await assert.rejects(store.get(key), isCode('WEIR_BLOB_INVALID_KEY', 400), label);
        await assert.rejects(store.stat(key), isCode('WEIR_BLOB_INVALID_KEY', 400), label);
        await assert.rejects(store.delete(key), isCode('WEIR_BLOB_INVALID_KEY', 400), label);
        assert.throws(() => store.localPath(key), isCode('WEIR_BLOB_INVALID_KEY', 400), label);
      }
      assert.deepEqual(await keysOf(store.list('.tmp')), []);
    });

    test('Hive partition names, unicode and URL-special characters round-trip exactly', async () => {
      const keys = [
        'source=src_1/date=2026-11-22/hour=14/00000-00099.parquet',
        'source=ünïcødé 日本/city=Zürich/emoji=😀.parquet',
        "odd/a b+c%2Fd%&e=f;g,h@i$j(k)l[m]n~o'p!q#r?s.parquet",
        '.hidden/x/.tmp',
      ];
      for (const k of keys) await store.put(k, Buffer.from(`body of ${k}`));
      for (const k of keys) {
        assert.equal((await getBuffer(store, k)).toString(), `body of ${k}`, k);
        assert.equal((await store.stat(k))?.key, k);
      }
      assert.deepEqual(await keysOf(store.list('source=')), keys.slice(0, 2));
      assert.deepEqual(await keysOf(store.list('odd/a b+c%2F')), [keys[2]]);
      assert.deepEqual(await keysOf(store.list('.hidden/')), [keys[3]]);
    });

    test('an object under way is invisible; an overwrite under way leaves the old bytes readable', async () => {
      await store.put('vis/over', Buffer.from('old'));
      for (const key of ['vis/new', 'vis/over']) {
        const src = generated(fx.partSize + Math.floor(fx.partSize / 2), { stallAt: fx.partSize + 1024 });
        const putting = store.put(key, src.stream);
        await src.stalled;
        if (key === 'vis/new') {
          assert.equal(await store.stat(key), undefined);
          await assert.rejects(store.get(key), isCode('WEIR_BLOB_NOT_FOUND'));
        } else {
          assert.equal((await getBuffer(store, key)).toString(), 'old');
          assert.equal((await store.stat(key))?.size, 3);
        }
        assert.deepEqual(await keysOf(store.list('vis/')), key === 'vis/new' ? ['vis/over'] : ['vis/new', 'vis/over']);
        src.release();
        assert.equal((await putting).size, src.size);
        assert.equal(sha256(await getBuffer(store, key)), src.sha256());
      }
    });

    test('an aborted put leaves nothing visible, and an aborted overwrite leaves the old object', async () => {
      await store.put('abort/over', Buffer.from('old'));
      for (const key of ['abort/new', 'abort/over']) {
        // Abort while the stream is still producing, after the first part is out.
        const ctl = new AbortController();
        const src = generated(3 * fx.partSize, { onSent: (sent) => sent > fx.partSize + 4096 && ctl.abort() });
        await assert.rejects(store.put(key, src.stream, { signal: ctl.signal }), isAbort);
        // Abort while the stream is stalled waiting for data.
        const ctl2 = new AbortController();
        const stalled = generated(3 * fx.partSize, { stallAt: fx.partSize + 4096 });
        void stalled.stalled.then(() => ctl2.abort());
        await assert.rejects(store.put(key, stalled.stream, { signal: ctl2.signal }), isAbort);
        // A signal aborted before the put starts.
        await assert.rejects(store.put(key, Buffer.from('never'), { signal: AbortSignal.abort() }), isAbort);
      }
      assert.equal(await store.stat('abort/new'), undefined);
      assert.equal((await getBuffer(store, 'abort/over')).toString(), 'old');
      assert.deepEqual(await keysOf(store.list('abort/')), ['abort/over']);
      assert.deepEqual(await keysOf(store.list('.tmp')), []);
    });

    test('a body stream that fails mid-way rejects with its error and leaves nothing visible', async () => {
      await store.put('fail/over', Buffer.from('old'));
      for (const key of ['fail/new', 'fail/over']) {
        for (const failAt of [100, fx.partSize + 4096, 2 * fx.partSize + 1]) {
          const boom = new Error(`source broke at ${failAt}`);
          const src = generated(3 * fx.partSize, { failAt, error: boom });
          await assert.rejects(store.put(key, src.stream), (err: unknown) => err === boom);
        }
      }
      assert.equal(await store.stat('fail/new'), undefined);
      assert.equal((await getBuffer(store, 'fail/over')).toString(), 'old');
      assert.deepEqual(await keysOf(store.list('fail/')), ['fail/over']);
    });

    test('concurrent puts to different keys all land', async () => {
      const bodies = Array.from({ length: 16 }, (_, i) => randomBytes(1000 + i * 997));
      const keyOf = (i: number) => `conc/k${String(i).padStart(2, '0')}`;
      const results = await Promise.all(bodies.map((b, i) => store.put(keyOf(i), i % 2 ? b : Readable.from([b.subarray(0, 500), b.subarray(500)]))));
      assert.deepEqual(results.map((r) => r.size), bodies.map((b) => b.length));
      for (const [i, b] of bodies.entries()) assert.deepEqual(await getBuffer(store, keyOf(i)), b);
      assert.deepEqual(await keysOf(store.list('conc/k')), bodies.map((_, i) => keyOf(i)));
    });

    test('concurrent multipart puts to one key leave one whole body; a put that lost the race is retriable', async (ctx) => {
      if (fx.overwriteDefect) return ctx.skip(fx.overwriteDefect);
      const bodies = [randomBytes(fx.partSize + 1), randomBytes(fx.partSize + 2), randomBytes(fx.partSize + 3)];
      const settled = await Promise.allSettled(bodies.map((b) => store.put('conc/same', Readable.from([b]))));
      // Azure discards the staged blocks of other puts when one commits: those puts fail, retriable.
      for (const s of settled) if (s.status === 'rejected') assert.ok(s.reason instanceof WeirError && s.reason.retriable, String(s.reason));
      const landed = bodies.filter((_, i) => settled[i]!.status === 'fulfilled');
      assert.ok(landed.length >= 1, 'at least one put lands');
      const got = await getBuffer(store, 'conc/same');
      assert.ok(landed.some((b) => got.equals(b)), `got ${got.length} bytes, not one whole body of a put that landed`);
    });

    test('a get with an aborted signal rejects with AbortError', async () => {
      await store.put('getabort/x', randomBytes(10));
      await assert.rejects(store.get('getabort/x', { signal: AbortSignal.abort() }), isAbort);
    });

    test('downloadToFile writes the object through a temporary file; localPath is the file or undefined', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'weir-blob-dl-'));
      try {
        const body = randomBytes(fx.partSize + 10);
        await store.put('dl/x.parquet', body);
        assert.equal(await downloadToFile(store, 'dl/x.parquet', join(dir, 'sub', 'x.parquet')), body.length);
        assert.ok((await readFile(join(dir, 'sub', 'x.parquet'))).equals(body));
        assert.deepEqual(await readdir(join(dir, 'sub')), ['x.parquet']);
        await assert.rejects(downloadToFile(store, 'dl/missing', join(dir, 'sub', 'missing')), isCode('WEIR_BLOB_NOT_FOUND'));
        assert.deepEqual(await readdir(join(dir, 'sub')), ['x.parquet']);
        const local = store.localPath('dl/x.parquet');
        if (local !== undefined) assert.ok((await readFile(local)).equals(body));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

export function isCode(code: string, status?: number): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof WeirError, `expected ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (status !== undefined) assert.equal(err.status, status);
    return true;
  };
}

/** Runs put, get, stat, delete and list at once and checks that each rejects as `check` expects. */
export async function assertEveryOperationRejects(store: BlobStore, check: (err: unknown) => boolean): Promise<void> {
  const ops: Record<string, Promise<unknown>> = {
    put: store.put('x/y', Buffer.from('x')),
    get: store.get('x/y'),
    stat: store.stat('x/y'),
    delete: store.delete('x/y'),
    list: store.list('x/')[Symbol.asyncIterator]().next(),
  };
  await Promise.all(Object.entries(ops).map(([op, p]) => assert.rejects(p, check, op)));
}

/** A `WEIR_BLOB_ACCESS_DENIED`: 403, not retriable. */
export function isDenied(err: unknown): boolean {
  isCode('WEIR_BLOB_ACCESS_DENIED', 403)(err);
  assert.equal((err as WeirError).retriable, false);
  return true;
}

/** A `WEIR_BLOB_UNAVAILABLE`: 503, retriable. */
export function isUnavailable(err: unknown): boolean {
  isCode('WEIR_BLOB_UNAVAILABLE', 503)(err);
  assert.equal((err as WeirError).retriable, true);
  return true;
}

function isAbort(err: unknown): boolean {
  assert.ok(err instanceof Error && err.name === 'AbortError', `expected an AbortError, got ${String(err)}`);
  return true;
}

async function collect(it: AsyncIterable<BlobInfo>): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const i of it) out.push(i);
  return out;
}

async function keysOf(it: AsyncIterable<BlobInfo>): Promise<string[]> {
  return (await collect(it)).map((i) => i.key);
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface GeneratedOptions {
  /** Called after each chunk with the bytes pushed so far. */
  onSent?: (sent: number) => void;
  /** Stop pushing once this many bytes are out, until `release()`; `stalled` resolves then. */
  stallAt?: number;
  /** Fail with `error` once this many bytes are out. */
  failAt?: number;
  error?: Error;
}

/**
 * A stream of `size` random bytes in chunks of an odd size (so part boundaries fall inside
 * chunks), which remembers what it produced.
 */
function generated(size: number, opts: GeneratedOptions = {}) {
  const CHUNK = 65_537;
  const produced: Buffer[] = [];
  let sent = 0;
  let released = opts.stallAt === undefined;
  let onStall: () => void = () => {};
  const stalled = new Promise<void>((resolve) => (onStall = resolve));
  let waiting = false;
  const stream = new Readable({
    read() {
      if (opts.failAt !== undefined && sent >= opts.failAt) {
        this.destroy(opts.error ?? new Error('generated stream failed'));
        return;
      }
      if (!released && sent >= (opts.stallAt ?? 0)) {
        waiting = true;
        onStall();
        return;
      }
      pushNext(this);
    },
  });
  function pushNext(s: Readable): void {
    if (sent >= size) {
      s.push(null);
      return;
    }
    let n = Math.min(CHUNK, size - sent);
    if (opts.failAt !== undefined && sent < opts.failAt) n = Math.min(n, opts.failAt - sent);
    if (!released && opts.stallAt !== undefined) n = Math.min(n, opts.stallAt - sent);
    const chunk = randomBytes(n);
    produced.push(chunk);
    sent += n;
    opts.onSent?.(sent);
    s.push(chunk);
  }
  return {
    stream,
    size,
    stalled,
    release(): void {
      released = true;
      if (waiting) {
        waiting = false;
        pushNext(stream);
      }
    },
    bytes: (): Buffer => Buffer.concat(produced),
    sha256: (): string => sha256(Buffer.concat(produced)),
  };
}
