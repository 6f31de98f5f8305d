/**
 * The contract every EventLog adapter passes. Adapter-neutral: it uses only the port.
 *
 * The factory gives a fresh, empty log; `reopen()` opens the same storage again (call it after
 * closing `log`, to check what survives); `cleanup()` closes whatever is still open and removes
 * the storage. Retention cases assume the adapter stores enough of the ~40 KB they append in
 * more than one retention unit (a segment), as a small test segment size gives.
 *
 * @example
 * ```ts
 * eventLogContract('file', async () => { ... return { log, reopen, cleanup }; });
 * ```
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EventLog, LogConsumer, LogRecord } from '../../src/log/event-log.js';
import { WeirError } from '../../src/errors/catalogue.js';

export interface EventLogFixture {
  log: EventLog;
  cleanup(): Promise<void>;
  reopen(): Promise<EventLog>;
}

const rec = (s: string): Buffer => Buffer.from(s);

function values(records: LogRecord[]): string[] {
  return records.map((r) => r.value.toString());
}

/** Polls until `count` records arrived or `timeoutMs` passed. */
async function pollAll(consumer: LogConsumer, count: number, timeoutMs = 5_000): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    out.push(...(await consumer.poll({ maxRecords: count - out.length, maxWaitMs: Math.max(1, deadline - Date.now()) })));
  }
  return out;
}

function isWeirError(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof WeirError, `expected WeirError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

export function eventLogContract(name: string, factory: () => Promise<EventLogFixture>): void {
  /** Runs `fn` with a fresh log and always cleans up. */
  const withLog = (fn: (f: EventLogFixture) => Promise<void>) => async () => {
    const fixture = await factory();
    try {
      await fn(fixture);
    } finally {
      await fixture.cleanup();
    }
  };

  describe(`EventLog contract: ${name}`, () => {
    it(
      'appends and polls records in order with contiguous offsets from 0',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        assert.equal(writer.partition, 0);
        assert.equal(writer.state, 'open');
        assert.deepEqual(await writer.append([rec('a'), rec('b')]), { partition: 0, firstOffset: 0, lastOffset: 1 });
        assert.deepEqual(await writer.append([rec('c')]), { partition: 0, firstOffset: 2, lastOffset: 2 });
        assert.deepEqual(await writer.append([rec('d'), rec('e'), rec('f')]), { partition: 0, firstOffset: 3, lastOffset: 5 });
        const consumer = await log.consumer('reader', { ephemeral: true });
        assert.equal(consumer.group, 'reader');
        const records = await pollAll(consumer, 6);
        assert.deepEqual(values(records), ['a', 'b', 'c', 'd', 'e', 'f']);
        assert.deepEqual(records.map((r) => r.offset), [0, 1, 2, 3, 4, 5]);
        assert.ok(records.every((r) => r.partition === 0));
        assert.deepEqual(await consumer.poll({ maxWaitMs: 0 }), []);
      }),
    );

    it(
      'respects maxRecords',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        await writer.append(Array.from({ length: 10 }, (_, i) => rec(`r${i}`)));
        const consumer = await log.consumer('reader', { ephemeral: true });
        const first = await consumer.poll({ maxRecords: 3, maxWaitMs: 1000 });
        assert.deepEqual(values(first), ['r0', 'r1', 'r2']);
        const rest = await pollAll(consumer, 7);
        assert.deepEqual(rest.map((r) => r.offset), [3, 4, 5, 6, 7, 8, 9]);
      }),
    );

    it(
      'stores records of any size, including empty ones and ones larger than a segment',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        const big = Buffer.alloc(100_000, 'x');
        const binary = Buffer.from([0, 0xfe, 0xff, 0x57, 0x46, 1, 2, 3]);
        await writer.append([Buffer.alloc(0), big, binary]);
        await writer.append([rec('after')]);
        const consumer = await log.consumer('reader', { ephemeral: true });
        const records = await pollAll(consumer, 4);
        assert.equal(records.length, 4);
        assert.equal(records[0]!.value.length, 0);
        assert.ok(records[1]!.value.equals(big));
        assert.ok(records[2]!.value.equals(binary));
        assert.equal(records[3]!.value.toString(), 'after');
      }),
    );

    it(
      'keeps partitions independent',
      withLog(async ({ log }) => {
        assert.deepEqual(await log.partitions(), []);
        const writers = await Promise.all([0, 1, 2].map((p) => log.openWriter(p)));
        for (const w of writers) {
          for (let i = 0; i < 5; i++) await w.append([rec(`p${w.partition}-${i}`)]);
        }
        assert.deepEqual(await log.partitions(), [0, 1, 2]);
        const consumer = await log.consumer('reader', { ephemeral: true });
        const records = await pollAll(consumer, 15);
        assert.equal(records.length, 15);
        for (const p of [0, 1, 2]) {
          const mine = records.filter((r) => r.partition === p);
          assert.deepEqual(mine.map((r) => r.offset), [0, 1, 2, 3, 4]);
          assert.deepEqual(values(mine), [0, 1, 2, 3, 4].map((i) => `p${p}-${i}`));
        }
        const stats = await log.stats();
        assert.deepEqual(stats.map((s) => [s.partition, s.nextOffset]), [[0, 5], [1, 5], [2, 5]]);
      }),
    );

    it(
      'makes concurrent appends durable with distinct, contiguous offsets',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        const appends = Array.from({ length: 300 }, (_, i) => writer.append(Array.from({ length: (i % 3) + 1 }, (_, j) => rec(`${i}.${j}`))));
        const results = await Promise.all(appends);
        const offsets = new Map<number, string>();
        results.forEach((r, i) => {
          assert.equal(r.lastOffset - r.firstOffset + 1, (i % 3) + 1);
          for (let o = r.firstOffset; o <= r.lastOffset; o++) {
            assert.ok(!offsets.has(o), `offset ${o} given twice`);
            offsets.set(o, `${i}.${o - r.firstOffset}`);
          }
        });
        const total = offsets.size;
        assert.deepEqual([...offsets.keys()].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i));
        // Call order is offset order.
        for (let i = 1; i < results.length; i++) assert.equal(results[i]!.firstOffset, results[i - 1]!.lastOffset + 1);
        const consumer = await log.consumer('reader', { ephemeral: true });
        const records = await pollAll(consumer, total);
        assert.equal(records.length, total);
        for (const r of records) assert.equal(r.value.toString(), offsets.get(r.offset));
      }),
    );

    it(
      'resumes a group from its committed offset after reopening',
      withLog(async (fixture) => {
        const writer = await fixture.log.openWriter(0);
        await writer.append(Array.from({ length: 10 }, (_, i) => rec(`r${i}`)));
        const consumer = await fixture.log.consumer('sink');
        const first = await consumer.poll({ maxRecords: 4, maxWaitMs: 1000 });
        assert.deepEqual(first.map((r) => r.offset), [0, 1, 2, 3]);
        await consumer.commit();
        // Polled but not committed: must be delivered again after the reopen.
        assert.equal((await consumer.poll({ maxRecords: 2, maxWaitMs: 1000 })).length, 2);
        assert.deepEqual((await fixture.log.groups()).get('sink'), new Map([[0, 4]]));
        await fixture.log.close();

        const log = await fixture.reopen();
        assert.deepEqual((await log.groups()).get('sink'), new Map([[0, 4]]));
        const again = await log.consumer('sink');
        const rest = await pollAll(again, 6);
        assert.deepEqual(rest.map((r) => r.offset), [4, 5, 6, 7, 8, 9]);
        assert.deepEqual(values(rest), ['r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
        // Appends continue after the reopened tail.
        const w2 = await log.openWriter(0);
        assert.deepEqual(await w2.append([rec('r10')]), { partition: 0, firstOffset: 10, lastOffset: 10 });
        await log.close();
      }),
    );

    it(
      'commits explicit positions and seeks',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        await writer.append(Array.from({ length: 10 }, (_, i) => rec(`r${i}`)));
        const consumer = await log.consumer('sink');
        await consumer.commit(new Map([[0, 7]]));
        assert.deepEqual((await log.groups()).get('sink'), new Map([[0, 7]]));
        consumer.seek(0, 8);
        assert.deepEqual((await pollAll(consumer, 2)).map((r) => r.offset), [8, 9]);
        consumer.seek(0, 2);
        assert.deepEqual((await consumer.poll({ maxRecords: 1, maxWaitMs: 1000 })).map((r) => r.offset), [2]);
        await consumer.close();
        const resumed = await log.consumer('sink');
        assert.deepEqual((await pollAll(resumed, 3)).map((r) => r.offset), [7, 8, 9]);
      }),
    );

    it(
      'starts a new group at the earliest or the latest record',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        await writer.append(Array.from({ length: 5 }, (_, i) => rec(`r${i}`)));
        const earliest = await log.consumer('from-start', { start: 'earliest' });
        const latest = await log.consumer('from-end', { start: 'latest' });
        const defaulted = await log.consumer('default', { ephemeral: true });
        assert.deepEqual(await latest.poll({ maxWaitMs: 50 }), []);
        await writer.append([rec('r5'), rec('r6')]);
        assert.deepEqual((await pollAll(latest, 2)).map((r) => r.offset), [5, 6]);
        assert.deepEqual((await pollAll(earliest, 7)).map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6]);
        assert.equal((await pollAll(defaulted, 7)).length, 7);
        // `start` applies only to a group without a committed offset.
        await latest.commit();
        await latest.close();
        const again = await log.consumer('from-end', { start: 'earliest' });
        assert.deepEqual(await again.poll({ maxWaitMs: 50 }), []);
      }),
    );

    it(
      'does not register ephemeral consumers',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        await writer.append([rec('a')]);
        const tail = await log.consumer('tail', { ephemeral: true });
        assert.equal((await pollAll(tail, 1)).length, 1);
        await tail.commit();
        await log.consumer('sink');
        const groups = await log.groups();
        assert.ok(!groups.has('tail'));
        assert.ok(groups.has('sink'));
      }),
    );

    it(
      'retention deletes only what every registered group passed and what is old enough',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        const payload = 'x'.repeat(100);
        for (let i = 0; i < 400; i += 10) await writer.append(Array.from({ length: 10 }, () => rec(payload)));
        const slow = await log.consumer('slow');
        const tail = await log.consumer('tail', { ephemeral: true });
        assert.equal((await pollAll(tail, 5)).length, 5); // an ephemeral reader holds nothing back

        assert.equal(await writer.enforceRetention(0), 0, 'slow has read nothing: nothing may go');
        assert.equal((await log.stats())[0]!.firstOffset, 0);

        assert.equal((await pollAll(slow, 250)).length, 250);
        await slow.commit();
        assert.equal(await writer.enforceRetention(3_600_000), 0, 'nothing is an hour old');

        const deleted = await writer.enforceRetention(0);
        assert.ok(deleted > 0, 'passed, old segments go');
        const [stats] = await log.stats();
        assert.ok(stats!.firstOffset > 0 && stats!.firstOffset <= 250, `first retained offset ${stats!.firstOffset}`);
        assert.equal(stats!.nextOffset, 400);

        const fresh = await log.consumer('late', { ephemeral: true, start: 'earliest' });
        const first = await fresh.poll({ maxRecords: 1, maxWaitMs: 1000 });
        assert.equal(first[0]!.offset, stats!.firstOffset);
        const rest = await pollAll(slow, 150);
        assert.deepEqual(rest.map((r) => r.offset), Array.from({ length: 150 }, (_, i) => 250 + i));
        // Only non-ephemeral groups count: with slow at the end, retention may take all but the tail.
        await slow.commit();
        await writer.enforceRetention(0);
        const after = await fresh.poll({ maxRecords: 400, maxWaitMs: 100 });
        assert.ok(after.every((r, i) => i === 0 || r.offset > after[i - 1]!.offset));
      }),
    );

    it(
      'reports lag against the durable head',
      withLog(async ({ log }) => {
        const w0 = await log.openWriter(0);
        const w1 = await log.openWriter(1);
        await w0.append(Array.from({ length: 10 }, (_, i) => rec(`r${i}`)));
        await w1.append([rec('x')]);
        const consumer = await log.consumer('sink');
        assert.deepEqual(await consumer.lag(), new Map([[0, 10], [1, 1]]));
        const got: LogRecord[] = [];
        while (got.filter((r) => r.partition === 0).length < 4) got.push(...(await consumer.poll({ maxRecords: 1, maxWaitMs: 1000 })));
        const lag = await consumer.lag();
        assert.equal(lag.get(0), 10 - got.filter((r) => r.partition === 0).length);
        await pollAll(consumer, 11 - got.length);
        assert.deepEqual(await consumer.lag(), new Map([[0, 0], [1, 0]]));
      }),
    );

    it(
      'poll waits for new data and returns promptly once it is durable',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        const consumer = await log.consumer('sink');
        const t0 = Date.now();
        assert.deepEqual(await consumer.poll({ maxWaitMs: 120 }), []);
        assert.ok(Date.now() - t0 >= 100, 'waited for maxWaitMs');

        let appendedAt = 0;
        const polled = consumer.poll({ maxWaitMs: 10_000 });
        setTimeout(() => {
          void writer.append([rec('late')]).then(() => (appendedAt = Date.now()));
        }, 50);
        const records = await polled;
        const returnedAt = Date.now();
        assert.deepEqual(values(records), ['late']);
        assert.ok(returnedAt - t0 < 5_000);
        await new Promise((r) => setTimeout(r, 5));
        assert.ok(appendedAt > 0 && returnedAt - appendedAt < 250, `returned ${returnedAt - appendedAt} ms after the append`);

        const controller = new AbortController();
        const aborted = consumer.poll({ maxWaitMs: 10_000, signal: controller.signal });
        setTimeout(() => controller.abort(), 30);
        const t1 = Date.now();
        assert.deepEqual(await aborted, []);
        assert.ok(Date.now() - t1 < 1_000, 'abort ends the wait');
      }),
    );

    it(
      'picks up partitions created after the consumer',
      withLog(async ({ log }) => {
        const w0 = await log.openWriter(0);
        await w0.append([rec('a')]);
        const consumer = await log.consumer('sink', { start: 'latest' });
        const w3 = await log.openWriter(3);
        await w3.append([rec('b'), rec('c')]);
        const records = await pollAll(consumer, 2, 5_000);
        assert.deepEqual(records.map((r) => [r.partition, r.offset]), [[3, 0], [3, 1]]);
      }),
    );

    it(
      'allows one writer per partition',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        await assert.rejects(log.openWriter(0), isWeirError('WEIR_LOG_LOCKED'));
        await writer.close();
        const again = await log.openWriter(0);
        assert.equal(again.state, 'open');
      }),
    );

    it(
      'flushes on close and refuses appends afterwards',
      withLog(async ({ log }) => {
        const writer = await log.openWriter(0);
        const pending = writer.append([rec('a'), rec('b')]);
        await writer.close();
        assert.deepEqual(await pending, { partition: 0, firstOffset: 0, lastOffset: 1 });
        assert.equal(writer.state, 'closed');
        await assert.rejects(writer.append([rec('c')]), isWeirError('WEIR_LOG_CLOSED'));
        await writer.close(); // idempotent

        const consumer = await log.consumer('sink');
        assert.equal((await pollAll(consumer, 2)).length, 2);
        await consumer.close();
        await assert.rejects(consumer.poll(), isWeirError('WEIR_LOG_CLOSED'));

        const w2 = await log.openWriter(1);
        const p2 = w2.append([rec('x')]);
        await log.close();
        assert.deepEqual(await p2, { partition: 1, firstOffset: 0, lastOffset: 0 });
        assert.equal(w2.state, 'closed');
        await assert.rejects(log.openWriter(0), isWeirError('WEIR_LOG_CLOSED'));
        await assert.rejects(log.consumer('sink'), isWeirError('WEIR_LOG_CLOSED'));
        await log.close(); // idempotent
      }),
    );
  });
}
