import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { WeirError } from '../../errors/catalogue.js';
import type { EventLog } from '../event-log.js';
import { openNatsEventLog, type NatsEventLogOptions } from './index.js';
import { deleteStreams, NATS_URL, natsUnreachable, uniqueStream } from '../../../test/helpers/nats.js';
import { requireOrSkip } from '../../../test/helpers/pipeline-fixtures.js';

const quiet = { warn: () => undefined };

function hasCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof WeirError, `expected ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

describe('NATS event log (beyond the contract)', () => {
  let skip: string | undefined;
  const streams: string[] = [];
  const opened: EventLog[] = [];
  const open = async (stream: string, more: Partial<NatsEventLogOptions> = {}): Promise<EventLog> => {
    const log = await openNatsEventLog({ servers: [NATS_URL], stream, subjectPrefix: stream.toLowerCase(), logger: quiet, ...more });
    opened.push(log);
    return log;
  };
  const fresh = (): string => {
    const s = uniqueStream('WEIRNATS');
    streams.push(s);
    return s;
  };
  const needsNats = (t: TestContext): boolean => requireOrSkip('NATS', skip === undefined ? {} : { skip }, (r) => t.skip(r));

  before(async () => {
    skip = await natsUnreachable();
  });
  after(async () => {
    for (const log of opened) await log.close().catch(() => undefined);
    if (skip === undefined) for (const s of streams) await deleteStreams(s);
  });

  it('stores a record once per id within the duplicate window and says how many were duplicates', async (t) => {
    if (!needsNats(t)) return;
    const log = await open(fresh());
    const w = await log.openWriter(0);
    const rec = (s: string) => Buffer.from(s);
    assert.deepEqual(await w.append([rec('a'), rec('b')], { ids: ['s/1', 's/2'] }), { partition: 0, firstOffset: 0, lastOffset: 1 });
    // A client retrying after a lost acknowledgement resends 2 beside a new 3.
    assert.deepEqual(await w.append([rec('b'), rec('c')], { ids: ['s/2', 's/3'] }), { partition: 0, firstOffset: 2, lastOffset: 2, duplicates: 1 });
    assert.deepEqual(await w.append([rec('a')], { ids: ['s/1'] }), { partition: 0, firstOffset: 3, lastOffset: 2, duplicates: 1 });
    // Records without an id are never deduplicated.
    assert.deepEqual(await w.append([rec('x'), rec('x')]), { partition: 0, firstOffset: 3, lastOffset: 4 });
    const c = await log.consumer('reader', { ephemeral: true });
    const got = await c.poll({ maxRecords: 10, maxWaitMs: 2000 });
    assert.deepEqual(got.map((r) => r.value.toString()), ['a', 'b', 'c', 'x', 'x']);
  });

  it('locks a partition against a writer in another process until the holder closes', async (t) => {
    if (!needsNats(t)) return;
    const stream = fresh();
    const first = await open(stream);
    const second = await open(stream); // its own connection, as another process would have
    const w = await first.openWriter(0);
    await assert.rejects(second.openWriter(0), (err: unknown) => {
      assert.ok(err instanceof WeirError && err.code === 'WEIR_LOG_LOCKED');
      assert.match(err.message, new RegExp(`:${process.pid}/`), 'names the holder');
      return true;
    });
    // Other partitions are free.
    const w1 = await second.openWriter(1);
    await w.close();
    const taken = await second.openWriter(0);
    assert.deepEqual(await taken.append([Buffer.from('after')]), { partition: 0, firstOffset: 0, lastOffset: 0 });
    await w1.close();
  });

  it('frees the partition of a writer that vanished once its lease expires, and fails that writer', async (t) => {
    if (!needsNats(t)) return;
    const stream = fresh();
    const nc = await connect({ servers: NATS_URL });
    const crashed = await open(stream, { connection: nc, writerLeaseMs: 1500 });
    const w = await crashed.openWriter(0);
    await w.append([Buffer.from('before')]);
    // The process is gone: no release, no renewals.
    await nc.close();
    const other = await open(stream, { writerLeaseMs: 1500 });
    await assert.rejects(other.openWriter(0), hasCode('WEIR_LOG_LOCKED'));
    const started = Date.now();
    let taken;
    while (taken === undefined && Date.now() - started < 10_000) {
      await new Promise((r) => setTimeout(r, 200));
      taken = await other.openWriter(0).catch((err: unknown) => {
        if (err instanceof WeirError && err.code === 'WEIR_LOG_LOCKED') return undefined;
        throw err;
      });
    }
    assert.ok(taken, 'the lease expired');
    assert.ok(Date.now() - started >= 500, 'not before it expired');
    assert.deepEqual(await taken.append([Buffer.from('after')]), { partition: 0, firstOffset: 1, lastOffset: 1 });
    // The vanished writer could not renew for a whole lease: it fences itself off.
    const deadline = Date.now() + 3000;
    while (w.state === 'open' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.state, 'failed');
  });

  it('turns a writer failed when another process took its lease', async (t) => {
    if (!needsNats(t)) return;
    const stream = fresh();
    const log = await open(stream, { writerLeaseMs: 1200 });
    const w = await log.openWriter(0);
    // Steal the lease the way an expired one is taken: publish over it without the holder's sequence.
    const nc = await connect({ servers: NATS_URL });
    try {
      const { jetstreamManager, jetstream } = await import('@nats-io/jetstream');
      const jsm = await jetstreamManager(nc);
      await jsm.streams.purge(`${stream}_WRITERS`);
      await jetstream(nc).publish(`${stream.toLowerCase()}.writers.p0`, new TextEncoder().encode('thief:1/x'));
    } finally {
      await nc.close();
    }
    const deadline = Date.now() + 5000;
    while (w.state === 'open' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(w.state, 'failed');
    await assert.rejects(w.append([Buffer.from('x')]), hasCode('WEIR_LOG_WRITE_FAILED'));
  });

  it('rejects an append JetStream does not acknowledge with a retriable WEIR_LOG_WRITE_FAILED', async (t) => {
    if (!needsNats(t)) return;
    const stream = fresh();
    const log = await open(stream, { publishTimeoutMs: 500 });
    const w = await log.openWriter(0);
    await w.append([Buffer.from('a')]);
    const nc = await connect({ servers: NATS_URL });
    try {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      await (await jetstreamManager(nc)).streams.delete(`${stream}_P0`);
    } finally {
      await nc.close();
    }
    await assert.rejects(w.append([Buffer.from('b')]), (err: unknown) => {
      assert.ok(err instanceof WeirError && err.code === 'WEIR_LOG_WRITE_FAILED' && err.retriable, String(err));
      return true;
    });
  });

  it('an unreachable server is WEIR_LOG_UNAVAILABLE', async () => {
    await assert.rejects(
      openNatsEventLog({ servers: ['127.0.0.1:1'], stream: 'NOPE', subjectPrefix: 'nope', logger: quiet }),
      hasCode('WEIR_LOG_UNAVAILABLE'),
    );
  });

  it('refuses stream and subject names JetStream cannot hold', async () => {
    await assert.rejects(openNatsEventLog({ servers: ['127.0.0.1:1'], stream: 'a.b', subjectPrefix: 'x' }), hasCode('WEIR_CONFIG_INVALID'));
    await assert.rejects(openNatsEventLog({ servers: ['127.0.0.1:1'], stream: 'A', subjectPrefix: 'x.*' }), hasCode('WEIR_CONFIG_INVALID'));
    await assert.rejects(openNatsEventLog({ servers: ['127.0.0.1:1'], stream: 'A', subjectPrefix: 'x', replicas: 7 }), hasCode('WEIR_CONFIG_INVALID'));
  });
});
