import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WeirError } from '../../src/errors/catalogue.js';
import type { EventLog, LogConsumer, LogRecord } from '../../src/log/event-log.js';
import { openFileEventLog, verifyLog } from '../../src/log/file/index.js';
import { FaultyFileLayer, quiet, tempDir } from './helpers.js';

const SEG0 = '00000000000000000000.seg';
const rec = (s: string): Buffer => Buffer.from(s);

function weirError(code: string, retriable: boolean): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof WeirError, `expected ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.retriable, retriable);
    return true;
  };
}

async function drain(consumer: LogConsumer, count: number): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let i = 0; i < 100 && out.length < count; i++) out.push(...(await consumer.poll({ maxRecords: 10_000, maxWaitMs: 20 })));
  return out;
}

async function pollUntilValue(consumer: LogConsumer, value: string): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let i = 0; i < 50 && !out.some((r) => r.value.toString() === value); i++) out.push(...(await consumer.poll({ maxWaitMs: 100 })));
  return out;
}

async function withFaultyLog(fn: (ctx: { dir: string; layer: FaultyFileLayer; log: EventLog }) => Promise<void>, segmentBytes?: number): Promise<void> {
  const tmp = await tempDir('fault');
  const layer = new FaultyFileLayer();
  const log = await openFileEventLog({ dir: tmp.dir, fileLayer: layer, logger: quiet, ...(segmentBytes ? { segmentBytes } : {}) });
  try {
    await fn({ dir: tmp.dir, layer, log });
  } finally {
    await log.close().catch(() => undefined);
    await tmp.cleanup();
  }
}

describe('file log faults', () => {
  it('rejects a write that hits ENOSPC, leaves no garbage and stays usable', () =>
    withFaultyLog(async ({ dir, layer, log }) => {
      const writer = await log.openWriter(0);
      await writer.append([rec('a')]);
      const sizeAfterA = (await stat(join(dir, '0', SEG0))).size;

      layer.failWritev('ENOSPC');
      // The first append starts a round alone; the two behind it already hold later offsets.
      const failed = [writer.append([rec('b')]), writer.append([rec('c')]), writer.append([rec('d'), rec('e')])];
      for (const p of failed) await assert.rejects(p, weirError('WEIR_LOG_DISK_FULL', true));
      assert.equal(writer.state, 'open');
      assert.equal((await stat(join(dir, '0', SEG0))).size, sizeAfterA, 'partial write truncated');

      assert.deepEqual(await writer.append([rec('f')]), { partition: 0, firstOffset: 1, lastOffset: 1 });
      const consumer = await log.consumer('check', { ephemeral: true });
      const records = await drain(consumer, 2);
      assert.deepEqual(records.map((r) => [r.offset, r.value.toString()]), [[0, 'a'], [1, 'f']]);
      await log.close();
      const report = await verifyLog(dir);
      assert.ok(report.ok);
      assert.equal(report.partitions[0]!.tornTail, undefined);
      assert.equal(report.partitions[0]!.records, 2);
    }));

  it('fails the writer for good on an fdatasync error; reopening keeps exactly the synced records and starts a new segment', () =>
    withFaultyLog(async ({ dir, layer, log }) => {
      const writer = await log.openWriter(0);
      await writer.append([rec('a'), rec('b')]);

      layer.failDatasync('EIO');
      const inRound = writer.append([rec('c')]);
      const queued = writer.append([rec('d')]);
      await assert.rejects(inRound, weirError('WEIR_LOG_FSYNC_FAILED', true));
      await assert.rejects(queued, weirError('WEIR_LOG_FSYNC_FAILED', true));
      assert.equal(writer.state, 'failed');
      // A later fsync might "succeed" on pages the kernel already dropped: no more appends.
      await assert.rejects(writer.append([rec('e')]), weirError('WEIR_LOG_FSYNC_FAILED', true));

      // Nothing unacknowledged is visible while the writer is failed.
      const consumer = await log.consumer('check', { ephemeral: true });
      assert.deepEqual((await drain(consumer, 2)).map((r) => r.value.toString()), ['a', 'b']);

      const reopened = await log.openWriter(0);
      assert.equal(reopened.state, 'open');
      const next = await reopened.append([rec('f')]);
      const records = await pollUntilValue(consumer, 'f');
      // The bytes of the failed round are in the page cache but not known to be on disk
      // (fsyncgate): the reopen cuts them away and appends go to a new segment.
      assert.deepEqual(records.map((r) => r.value.toString()), ['f']);
      assert.equal(next.firstOffset, 2);
      assert.ok(layer.calls.includes(`open ${join(dir, '0', '00000000000000000002.seg')}`), 'a new segment at the first unsynced offset');
      await log.close();
      assert.ok((await verifyLog(dir)).ok);

      const again = await openFileEventLog({ dir, logger: quiet });
      const all = await pollUntilValue(await again.consumer('all', { ephemeral: true }), 'f');
      assert.deepEqual(all.slice(0, 2).map((r) => r.value.toString()), ['a', 'b']);
      assert.equal(all[all.length - 1]!.value.toString(), 'f');
      await again.close();
    }));

  it('keeps records invisible to every reader until their fdatasync completes', () =>
    withFaultyLog(async ({ dir, layer, log }) => {
      const writer = await log.openWriter(0);
      await writer.append([rec('durable')]);
      const inProcess = await log.consumer('same-process', { ephemeral: true });
      const other = await openFileEventLog({ dir, logger: quiet }); // stands in for another process
      try {
        const crossProcess = await other.consumer('other-process', { ephemeral: true });
        assert.equal((await drain(inProcess, 1)).length, 1);
        assert.equal((await drain(crossProcess, 1)).length, 1);

        let open!: () => void;
        layer.datasyncGate = new Promise<void>((resolve) => (open = resolve));
        const pending = writer.append([rec('pending')]);
        await new Promise((r) => setTimeout(r, 30)); // the bytes are written, the sync is held
        assert.deepEqual(await inProcess.poll({ maxWaitMs: 50 }), []);
        assert.deepEqual(await crossProcess.poll({ maxWaitMs: 50 }), []);
        assert.deepEqual([...(await inProcess.lag())], [[0, 0]]);

        layer.datasyncGate = undefined;
        open();
        await pending;
        assert.deepEqual((await drain(inProcess, 1)).map((r) => r.value.toString()), ['pending']);
        assert.deepEqual((await drain(crossProcess, 1)).map((r) => r.value.toString()), ['pending']);
      } finally {
        await other.close();
      }
    }));

  it('shares one fdatasync among concurrent appends', () =>
    withFaultyLog(async ({ layer, log }) => {
      const writer = await log.openWriter(0);
      const before = layer.count('datasync');
      const results = await Promise.all(Array.from({ length: 500 }, (_, i) => writer.append([rec(String(i))])));
      assert.equal(results[499]!.lastOffset, 499);
      const syncs = layer.count('datasync') - before;
      assert.ok(syncs <= 5, `${syncs} fdatasyncs for 500 concurrent appends`);
    }));

  it('makes a new segment’s directory entry durable before acknowledging records in it', () =>
    withFaultyLog(async ({ dir, layer, log }) => {
      const writer = await log.openWriter(0);
      for (let i = 0; i < 20; i++) await writer.append([rec('x'.repeat(50))]);
      const calls = layer.calls;
      const partitionDir = join(dir, '0');
      const rolls = calls.flatMap((c, i) => (c.startsWith(`open ${partitionDir}/`) && c.endsWith('.seg') && !c.endsWith(SEG0) ? [i] : []));
      assert.ok(rolls.length >= 2, 'segments rolled');
      for (const i of rolls) {
        const seg = calls[i]!.slice('open '.length);
        const firstSync = calls.indexOf(`datasync ${seg}`, i);
        const dirSync = calls.indexOf(`syncDir ${partitionDir}`, i);
        assert.ok(dirSync > i && dirSync < firstSync, `syncDir between creating ${seg} and its first datasync`);
      }
      const consumer = await log.consumer('check', { ephemeral: true });
      assert.equal((await drain(consumer, 20)).length, 20);
    }, 256));

  it('recovers from a write failure in a freshly rolled segment', () =>
    withFaultyLog(async ({ layer, log }) => {
      const writer = await log.openWriter(0);
      await writer.append([rec('x'.repeat(100))]);
      await writer.append([rec('x'.repeat(100))]);
      // The next append needs a new segment; its first write fails.
      layer.failWritev('ENOSPC');
      await assert.rejects(writer.append([rec('y'.repeat(100))]), weirError('WEIR_LOG_DISK_FULL', true));
      assert.deepEqual(await writer.append([rec('z')]), { partition: 0, firstOffset: 2, lastOffset: 2 });
      const consumer = await log.consumer('check', { ephemeral: true });
      assert.deepEqual((await drain(consumer, 3)).map((r) => r.offset), [0, 1, 2]);
    }, 256));
});
