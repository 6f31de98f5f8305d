import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventLog, LogRecord } from '../../src/log/event-log.js';
import { openFileEventLog, verifyLog } from '../../src/log/file/index.js';
import { collectCorruption, quiet, tempDir } from '../log/helpers.js';

const HEADER = 20;
const SEG0 = '00000000000000000000.seg';

function payload(i: number): Buffer {
  // Varying sizes so frame boundaries fall at irregular positions.
  return Buffer.from(JSON.stringify({ i, pad: 'p'.repeat((i * 7) % 23) }));
}

async function readAll(log: EventLog, expected: number): Promise<LogRecord[]> {
  const consumer = await log.consumer('check', { ephemeral: true });
  const out: LogRecord[] = [];
  for (let attempt = 0; attempt < 50 && out.length < expected; attempt++) out.push(...(await consumer.poll({ maxRecords: 10_000, maxWaitMs: 20 })));
  // Nothing beyond what is expected.
  out.push(...(await consumer.poll({ maxRecords: 10_000, maxWaitMs: 0 })));
  await consumer.close();
  return out;
}

/** Writes `count` records to partition 0 of a fresh log in `dir` and returns each frame's end. */
async function writeRecords(dir: string, count: number, segmentBytes?: number): Promise<number[]> {
  const log = await openFileEventLog({ dir, logger: quiet, ...(segmentBytes ? { segmentBytes } : {}) });
  const writer = await log.openWriter(0);
  const ends: number[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const p = payload(i);
    await writer.append([p]);
    pos += HEADER + p.length;
    ends.push(pos);
  }
  await log.close();
  return ends;
}

describe('file log recovery', () => {
  const N = 30;
  let source: { dir: string; cleanup(): Promise<void> };
  let segment: Buffer;
  let ends: number[];

  before(async () => {
    source = await tempDir('recovery-src');
    ends = await writeRecords(source.dir, N);
    segment = await readFile(join(source.dir, '0', SEG0));
    assert.equal(segment.length, ends[N - 1]);
  });
  after(() => source.cleanup());

  /** Opens a log whose only segment holds `bytes`, appends one record, checks what survived. */
  async function checkRecovery(bytes: Buffer, label: string, validBytes = bytes.length): Promise<void> {
    const work = await tempDir('recovery-case');
    try {
      await mkdir(join(work.dir, '0'), { recursive: true });
      await writeFile(join(work.dir, '0', SEG0), bytes);
      let kept = 0;
      while (kept < N && ends[kept]! <= validBytes) kept++;
      const corruption = collectCorruption();
      const log = await openFileEventLog({ dir: work.dir, logger: quiet, onCorrupt: corruption.onCorrupt });
      const writer = await log.openWriter(0);
      const res = await writer.append([Buffer.from('new')]);
      assert.equal(res.firstOffset, kept, `${label}: next offset`);
      const records = await readAll(log, kept + 1);
      assert.equal(records.length, kept + 1, `${label}: record count`);
      records.slice(0, kept).forEach((r, i) => {
        assert.equal(r.offset, i);
        assert.ok(r.value.equals(payload(i)), `${label}: record ${i}`);
      });
      assert.equal(records[kept]!.value.toString(), 'new');
      assert.deepEqual(corruption.infos, [], `${label}: a torn tail is not corruption`);
      await log.close();
      const size = (await readFile(join(work.dir, '0', SEG0))).length;
      assert.equal(size, (kept > 0 ? ends[kept - 1]! : 0) + HEADER + 3, `${label}: torn bytes truncated`);
      const report = await verifyLog(work.dir);
      assert.ok(report.ok, `${label}: verify`);
      assert.equal(report.partitions[0]!.tornTail, undefined);
      assert.equal(report.partitions[0]!.nextOffset, kept + 1);
    } finally {
      await work.cleanup();
    }
  }

  it('truncates a torn tail at every byte of the last records and continues at the right offset', async () => {
    const from = ends[N - 4]!;
    for (let cut = from; cut <= segment.length; cut++) {
      await checkRecovery(segment.subarray(0, cut), `cut at ${cut}`);
    }
  });

  it('treats zeros or garbage after a cut as a torn tail', async () => {
    const from = ends[N - 3]!;
    for (let cut = from; cut <= segment.length; cut += 5) {
      await checkRecovery(Buffer.concat([segment.subarray(0, cut), Buffer.alloc(4096)]), `zeros after ${cut}`, cut);
      const garbage = Buffer.from('{"not":"a frame"}'.repeat(20));
      await checkRecovery(Buffer.concat([segment.subarray(0, cut), garbage]), `garbage after ${cut}`, cut);
    }
    await checkRecovery(Buffer.alloc(0), 'empty segment');
    await checkRecovery(Buffer.alloc(100), 'only zeros', 0);
  });

  for (const [what, at] of [
    ['payload', HEADER + 2],
    ['length field', 9],
    ['magic', 0],
  ] as const) {
    it(`quarantines a corrupt ${what} in the middle and keeps the records after it`, async () => {
      const work = await tempDir('corrupt');
      try {
        const bad = 10;
        const start = ends[bad - 1]!;
        const length = ends[bad]! - start;
        const bytes = Buffer.from(segment);
        bytes[start + at]! ^= 0x10;
        await mkdir(join(work.dir, '0'), { recursive: true });
        const segPath = join(work.dir, '0', SEG0);
        await writeFile(segPath, bytes);

        const corruption = collectCorruption();
        const log = await openFileEventLog({ dir: work.dir, logger: quiet, onCorrupt: corruption.onCorrupt });
        const writer = await log.openWriter(0);
        assert.equal(corruption.infos.length, 1);
        const info = corruption.infos[0]!;
        assert.equal(info.partition, 0);
        assert.equal(info.file, segPath);
        assert.equal(info.position, start);
        assert.equal(info.length, length);
        assert.equal(info.detectedBy, 'recovery');
        assert.equal(info.quarantinedTo, join(work.dir, '0', 'quarantine', `00000000000000000000-${start}.bin`));
        assert.deepEqual(await readdir(join(work.dir, '0', 'quarantine')), [`00000000000000000000-${start}.bin`]);
        assert.ok((await readFile(info.quarantinedTo!)).equals(bytes.subarray(start, start + length)));

        assert.equal((await writer.append([Buffer.from('new')])).firstOffset, N);
        const records = await readAll(log, N);
        assert.deepEqual(
          records.map((r) => r.offset),
          [...Array.from({ length: N }, (_, i) => i).filter((i) => i !== bad), N],
        );
        for (const r of records.slice(0, -1)) assert.ok(r.value.equals(payload(r.offset)));
        assert.equal(corruption.infos.length, 1, 'readers do not report it again');
        assert.equal((await log.stats())[0]!.corruptRecords, 1);
        await log.close();

        const report = await verifyLog(work.dir);
        assert.equal(report.ok, false);
        const p = report.partitions[0]!;
        assert.deepEqual(p.corrupt, [{ file: segPath, position: start, length }]);
        assert.deepEqual(p.gaps, [{ from: bad, to: bad + 1 }]);
        assert.equal(p.records, N);
        assert.equal(p.nextOffset, N + 1);
      } finally {
        await work.cleanup();
      }
    });
  }

  it('quarantines and reports a bit flipped at every byte of a record in the middle, keeping every other record', async () => {
    const bad = 10;
    const start = ends[bad - 1]!;
    const length = ends[bad]! - start;
    for (let at = 0; at < length; at++) {
      const label = `bit ${at % 8} of byte ${at} of record ${bad}`;
      const work = await tempDir('bit-flip');
      try {
        const bytes = Buffer.from(segment);
        bytes[start + at]! ^= 1 << at % 8;
        await mkdir(join(work.dir, '0'), { recursive: true });
        await writeFile(join(work.dir, '0', SEG0), bytes);
        const corruption = collectCorruption();
        const log = await openFileEventLog({ dir: work.dir, logger: quiet, onCorrupt: corruption.onCorrupt });
        const writer = await log.openWriter(0);
        assert.deepEqual(
          corruption.infos.map((i) => [i.position, i.length, i.detectedBy]),
          [[start, length, 'recovery']],
          `${label}: reported once, as exactly that record`,
        );
        assert.ok((await readFile(corruption.infos[0]!.quarantinedTo!)).equals(bytes.subarray(start, start + length)), `${label}: quarantined`);
        assert.equal((await writer.append([Buffer.from('new')])).firstOffset, N, `${label}: the next offset is unchanged`);
        const records = await readAll(log, N);
        assert.deepEqual(
          records.map((r) => r.offset),
          [...Array.from({ length: N }, (_, i) => i).filter((i) => i !== bad), N],
          `${label}: every other record is kept`,
        );
        for (const r of records.slice(0, -1)) assert.ok(r.value.equals(payload(r.offset)), `${label}: record ${r.offset} intact`);
        await log.close();
      } finally {
        await work.cleanup();
      }
    }
  });

  it('readers skip and report corruption in an older segment, never returning a bad record', async () => {
    const work = await tempDir('corrupt-reader');
    try {
      await writeRecords(work.dir, 40, 512);
      const dir0 = join(work.dir, '0');
      const segs = (await readdir(dir0)).filter((n) => n.endsWith('.seg')).sort();
      assert.ok(segs.length > 3);
      const path = join(dir0, segs[1]!);
      const bytes = await readFile(path);
      const firstLen = bytes.readUInt32LE(8);
      const secondStart = HEADER + firstLen;
      const badOffset = bytes.readUInt32LE(secondStart + 12);
      bytes[secondStart + HEADER]! ^= 0x01;
      await writeFile(path, bytes);

      const corruption = collectCorruption();
      const log = await openFileEventLog({ dir: work.dir, logger: quiet, onCorrupt: corruption.onCorrupt });
      const records = await readAll(log, 39);
      assert.deepEqual(records.map((r) => r.offset), Array.from({ length: 40 }, (_, i) => i).filter((i) => i !== badOffset));
      for (const r of records) assert.ok(r.value.equals(payload(r.offset)));
      assert.equal(corruption.infos.length, 1);
      assert.equal(corruption.infos[0]!.detectedBy, 'reader');
      assert.equal(corruption.infos[0]!.position, secondStart);
      assert.equal((await log.stats())[0]!.corruptRecords, 1);
      await log.close();
    } finally {
      await work.cleanup();
    }
  });

  it('without a head file, readers read valid frames and wait at a torn tail without reporting it', async () => {
    const work = await tempDir('no-head');
    try {
      await writeRecords(work.dir, 10);
      const dir0 = join(work.dir, '0');
      await unlink(join(dir0, 'head'));
      const full = await readFile(join(dir0, SEG0));
      await writeFile(join(dir0, SEG0), full.subarray(0, full.length - 5));

      const corruption = collectCorruption();
      const log = await openFileEventLog({ dir: work.dir, logger: quiet, onCorrupt: corruption.onCorrupt });
      const records = await readAll(log, 9);
      assert.deepEqual(records.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
      assert.deepEqual(corruption.infos, []);
      assert.equal((await log.stats())[0]!.nextOffset, 9);
      const report = await verifyLog(work.dir);
      assert.ok(report.ok);
      assert.equal(report.partitions[0]!.tornTail?.position, ends[8]);
      await log.close();
    } finally {
      await work.cleanup();
    }
  });

  it('recovers a partition whose last segment is empty after a roll', async () => {
    const work = await tempDir('empty-last');
    try {
      await writeRecords(work.dir, 20, 512);
      const dir0 = join(work.dir, '0');
      const segs = (await readdir(dir0)).filter((n) => n.endsWith('.seg')).sort();
      const lastBase = Number(segs[segs.length - 1]!.slice(0, 20));
      // A crash right after creating the next segment, before writing to it.
      const nextBase = 20;
      assert.ok(lastBase < nextBase);
      await writeFile(join(dir0, `${String(nextBase).padStart(20, '0')}.seg`), Buffer.alloc(0));
      await unlink(join(dir0, 'head'));
      const log = await openFileEventLog({ dir: work.dir, logger: quiet });
      const writer = await log.openWriter(0);
      assert.equal((await writer.append([Buffer.from('x')])).firstOffset, 20);
      assert.equal((await readAll(log, 21)).length, 21);
      await log.close();
      assert.ok((await verifyLog(work.dir)).ok);
    } finally {
      await work.cleanup();
    }
  });
});
