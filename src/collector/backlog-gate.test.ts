import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeirError } from '../errors/catalogue.js';
import { openFileEventLog } from '../log/file/index.js';
import { BacklogGate } from './backlog-gate.js';

const quiet = { warn: (): void => undefined, error: (): void => undefined };

test('the gate closes while the slowest consumer group leaves more than the budget unread, and opens once it commits', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weir-backlog-'));
  const log = await openFileEventLog({ dir, logger: quiet, segmentBytes: 4096 });
  try {
    const record = Buffer.alloc(100, 'x');
    for (const partition of [0, 1]) {
      const writer = await log.openWriter(partition);
      for (let i = 0; i < 10; i++) await writer.append(Array.from({ length: 10 }, () => record));
    }
    const gate = new BacklogGate([log], 10_000);
    assert.deepEqual(await gate.refresh(), { bytes: 0, budgetBytes: 10_000, full: false }, 'no group registered: nothing is held back');

    const fast = await log.consumer('fast');
    const slow = await log.consumer('slow');
    await fast.commit(new Map([[0, 100], [1, 100]]));
    await slow.commit(new Map([[0, 100], [1, 0]]));
    const behind = await gate.refresh();
    // 100 records of 100 bytes, each with its 20-byte frame header, in partition 1.
    assert.ok(behind.full && behind.bytes === 12_000, JSON.stringify(behind));
    assert.throws(() => gate.check(), (err: unknown) => err instanceof WeirError && err.code === 'WEIR_INGEST_BACKLOG_FULL' && err.status === 503 && err.params.retryAfter === 5);

    await slow.commit(new Map([[1, 60]]));
    const caughtUp = await gate.refresh();
    assert.ok(!caughtUp.full && caughtUp.bytes === 4_800, JSON.stringify(caughtUp));
    gate.check();
    // What this process appends counts at once, not at the next measurement.
    gate.added(5_000);
    gate.check();
    gate.added(500);
    assert.throws(() => gate.check(), (err: unknown) => err instanceof WeirError && err.code === 'WEIR_INGEST_BACKLOG_FULL');
    assert.equal((await gate.refresh()).full, false, 'a measurement replaces the estimate');

    const off = new BacklogGate([log], 0);
    await slow.commit(new Map([[1, 0]]));
    assert.equal((await off.refresh()).full, false, 'a budget of 0 is no budget');
    off.check();
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
});
