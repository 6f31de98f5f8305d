import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeAcceptedRecord, encodeFailedRecord } from '../events/log-record.js';
import type { EventLog } from '../log/event-log.js';
import { openFileEventLog } from '../log/file/index.js';
import { createLogger } from '../observability/logger.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';
import type { Source, StateStore } from '../state/state-store.js';
import { runUsageMeter, USAGE_CONSUMERS, USAGE_GROUP, type UsageMeterOptions } from './usage-meter.js';

type Counts = Record<string, { accepted: number; failed: number; bytes: number }>;

describe('usage meter', { timeout: 30_000 }, () => {
  let dir: string;
  let eventsLog: EventLog;
  let failedLog: EventLog;
  let state: StateStore;
  let web: Source;
  let app: Source;
  /** What was appended, per `sourceId hour`: the expected usage. */
  let sent: Counts;
  let seq = 0;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weir-usage-'));
    // Small segments, so the counted stream spans several of them.
    eventsLog = await openFileEventLog({ dir: join(dir, 'log'), segmentBytes: 4096 });
    failedLog = await openFileEventLog({ dir: join(dir, 'failed-log'), segmentBytes: 4096 });
    state = await openSqliteStateStore({ file: join(dir, 'weir.sqlite') });
    web = (await state.bootstrap()).source;
    const other = await state.createWorkspace('other');
    app = await state.createSource({ workspaceId: other.id, name: 'app' });
    sent = {};
  });
  afterEach(async () => {
    await eventsLog.close();
    await failedLog.close();
    await state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function expect(source: Source, receivedAt: string, kind: 'accepted' | 'failed', record: Buffer): Buffer {
    const hour = `${receivedAt.slice(0, 13)}:00:00.000Z`;
    const c = (sent[`${source.name} ${hour}`] ??= { accepted: 0, failed: 0, bytes: 0 });
    c[kind]++;
    c.bytes += record.length;
    return record;
  }

  /** Appends accepted events and failed items of different sizes, spread over partitions and hours. */
  async function send(n: { accepted: number; failed: number }, hours: string[]): Promise<void> {
    for (const [partition, count] of [[0, Math.ceil(n.accepted / 2)], [1, Math.floor(n.accepted / 2)]] as const) {
      const writer = await eventsLog.openWriter(partition);
      const records = Array.from({ length: count }, (_, i) => {
        const source = i % 3 === 0 ? app : web;
        const receivedAt = `${hours[i % hours.length]}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`;
        const event = { type: 'track', event: 'E', userId: `u${i}`, messageId: `m${seq++}`, pad: 'x'.repeat(i % 50), receivedAt };
        return expect(source, receivedAt, 'accepted', encodeAcceptedRecord(source.id, event));
      });
      await writer.append(records);
      await writer.close();
    }
    const writer = await failedLog.openWriter(0);
    const failed = Array.from({ length: n.failed }, (_, i) => {
      const source = i % 2 === 0 ? app : web;
      const receivedAt = `${hours[i % hours.length]}:30.000Z`;
      const payload = { type: 'track', userId: 'u', n: 'y'.repeat(i) };
      const r = encodeFailedRecord({ sourceId: source.id, reason: 'WEIR_EVENT_MISSING_EVENT_NAME', message: 'm', messageId: null, receivedAt, payload });
      return expect(source, receivedAt, 'failed', r);
    });
    await writer.append(failed);
    await writer.close();
  }

  async function stored(): Promise<Counts> {
    const names = new Map((await state.listSources()).map((s) => [s.id, s.name]));
    const out: Counts = {};
    for (const r of await state.listUsage({})) out[`${names.get(r.sourceId)} ${r.hour.toISOString()}`] = { accepted: r.accepted, failed: r.failed, bytes: r.bytes };
    return sortKeys(out);
  }

  /**
   * Runs the meter until `until` holds: after a number of batches, or when `done()` is true
   * after a batch (or right away).
   */
  async function meterUntil(until: { batches: number } | (() => Promise<boolean>), extra: Partial<UsageMeterOptions> = {}): Promise<void> {
    const stop = new AbortController();
    const done = typeof until === 'function' ? until : async () => false;
    let batches = 0;
    let checking = Promise.resolve();
    const run = runUsageMeter({
      eventsLog,
      failedLog,
      state,
      logger: createLogger('silent'),
      signal: stop.signal,
      maxWaitMs: 20,
      ...extra,
      onBatch: () => {
        if (typeof until !== 'function' && ++batches >= until.batches) stop.abort();
        checking = checking.then(async () => {
          if (await done()) stop.abort();
        });
      },
    });
    if (await done()) stop.abort();
    await run;
    await checking;
  }

  /** The meter's saved positions reached the end of both logs. */
  const caughtUp = async () => {
    for (const [log, name] of [[eventsLog, USAGE_CONSUMERS.events], [failedLog, USAGE_CONSUMERS.failed]] as const) {
      const saved = await state.consumerPositions(name);
      for (const s of await log.stats()) if ((saved.get(s.partition) ?? 0) < s.nextOffset) return false;
    }
    return true;
  };

  it('counts accepted and failed events and their bytes per source and UTC hour', async () => {
    await send({ accepted: 60, failed: 9 }, ['2026-05-01T10:59', '2026-05-01T11:00', '2026-05-02T00:15']);
    await meterUntil(caughtUp);
    assert.deepEqual(await stored(), sortKeys(sent));
    assert.equal(Object.keys(sent).length, 6, 'two sources in three hours');
    const byWorkspace = await state.listUsage({ workspaceId: app.workspaceId });
    assert.ok(byWorkspace.length > 0 && byWorkspace.every((r) => r.sourceId === app.id));
    // Its positions are the next offsets of every partition of both logs.
    assert.deepEqual(await state.consumerPositions(USAGE_CONSUMERS.events), new Map([[0, 30], [1, 30]]));
    assert.deepEqual(await state.consumerPositions(USAGE_CONSUMERS.failed), new Map([[0, 9]]));
  });

  it('counts exactly what was sent when stopped mid-way and restarted, however often', async () => {
    const hours = ['2026-05-01T10:59', '2026-05-01T11:00'];
    await send({ accepted: 40, failed: 12 }, hours);
    // Stop after the first batch of 7 records, several times over, sending more in between.
    for (let round = 0; round < 3; round++) {
      await meterUntil({ batches: 1 }, { maxRecords: 7 });
      await send({ accepted: 10, failed: 3 }, hours);
    }
    await meterUntil(caughtUp, { maxRecords: 7 });
    assert.deepEqual(await stored(), sortKeys(sent));
  });

  it('restarts from its saved positions, not from the log offsets it commits for retention', async () => {
    await send({ accepted: 20, failed: 4 }, ['2026-05-01T10:00']);
    await meterUntil(caughtUp, { logCommitMs: 0 });
    const groups = await eventsLog.groups();
    assert.deepEqual(groups.get(USAGE_GROUP), new Map([[0, 10], [1, 10]]), 'retention waits for what the meter counted');

    // A crash after the counts were saved but before the log commit leaves the log behind.
    const behind = await eventsLog.consumer(USAGE_GROUP);
    await behind.commit(new Map([[0, 0], [1, 3]]));
    await behind.close();
    await send({ accepted: 4, failed: 0 }, ['2026-05-01T10:00']);
    await meterUntil(caughtUp);
    assert.deepEqual(await stored(), sortKeys(sent), 'nothing counted twice');
  });

  it('commits what it counted once the log goes idle, so an idle log does not stay held back', async () => {
    await send({ accepted: 20, failed: 0 }, ['2026-05-01T10:00']);
    const stop = new AbortController();
    const run = runUsageMeter({ eventsLog, failedLog, state, logger: createLogger('silent'), signal: stop.signal, maxWaitMs: 20, logCommitMs: 600_000 });
    const committedUpTo = async (offset: number) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const committed = (await eventsLog.groups()).get(USAGE_GROUP);
        if (committed?.get(0) === offset && committed.get(1) === offset) return;
        assert.ok(Date.now() < deadline, `usage group committed ${JSON.stringify([...(committed ?? [])])}, expected ${offset}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await committedUpTo(10);
      // The next batch comes well within logCommitMs of that commit: only the idle commit moves the group.
      await send({ accepted: 20, failed: 0 }, ['2026-05-01T10:00']);
      await committedUpTo(20);
    } finally {
      stop.abort();
      await run;
    }
  });
});

function sortKeys(c: Counts): Counts {
  return Object.fromEntries(Object.entries(c).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
