import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFailedRecord } from '../../src/events/log-record.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { WeirServer, basic, eventually, post, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

interface Summary {
  examined: number;
  valid: number;
  stillFailing: Record<string, number>;
  dryRun: boolean;
}

function replay(env: NodeJS.ProcessEnv, ...args: string[]): Summary {
  const r = weir(['failed', 'replay', '--json', ...args], { env, timeoutMs: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Summary;
}

function token(dataDir: string): string {
  return readFileSync(join(dataDir, 'cli-token'), 'utf8').trim();
}

/** Rows of a warehouse table, asserting that each messageId is there once. */
async function count(server: WeirServer, table: string): Promise<number> {
  const res = await fetch(`${server.url}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token(server.dataDir)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql: `select count(*) as n, count(distinct id) as d from ${table}` }),
  });
  assert.equal(res.status, 200);
  const [[n, d]] = ((await res.json()) as { rows: number[][] }).rows as [[number, number]];
  assert.equal(n, d, `${table} holds each messageId once`);
  return Number(n);
}

/** Resolves once the warehouse loader has loaded everything in the log. */
async function loaded(server: WeirServer): Promise<void> {
  await eventually(async () => {
    const body = (await (await fetch(`${server.url}/readyz`)).json()) as { checks: { warehouse?: { lag: number } } };
    return body.checks.warehouse?.lag === 0;
  }, 20_000, 100);
}

test('weir failed replay: what passes now reaches the warehouse once, however often it is replayed, with or without a server', { timeout: 180_000 }, async () => {
  const dataDir = tempDir('weir-failed-replay-');
  const env = { WEIR_DATA_DIR: dataDir };
  let server: WeirServer | undefined;
  try {
    const source = (JSON.parse(weir(['sources', 'list', '--json'], { env }).stdout) as Array<{ id: string; writeKey: string }>)[0]!;

    // Items refused under an earlier configuration of the source (bots sent to failed events):
    // valid by the spec, so they pass once that configuration is gone. Two carry no messageId.
    const earlier = await openFileEventLog({ dir: join(dataDir, 'failed-log') });
    const writer = await earlier.openWriter(0);
    const receivedAt = '2026-11-20T08:00:00.000Z';
    const items = [
      { type: 'track', event: 'Crawled', userId: 'bot-1', messageId: 'bot-m1', context: { userAgent: 'Googlebot/2.1' } },
      { type: 'track', event: 'Crawled', userId: 'bot-2', messageId: 'bot-m2' },
      { type: 'track', event: 'Crawled', userId: 'bot-3' },
      { type: 'page', anonymousId: 'bot-4', name: 'Home' },
    ];
    await writer.append(
      items.map((payload) =>
        encodeFailedRecord({ sourceId: source.id, reason: 'WEIR_EVENT_BOT', message: 'event comes from a bot', messageId: payload.messageId ?? null, receivedAt, payload }),
      ),
    );
    await writer.close();
    await earlier.close();

    server = await WeirServer.start({ dataDir });
    const serverEnv = { ...env, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
    // Spec violations that no configuration makes valid.
    const sent = await post(
      server,
      '/v1/batch',
      { batch: [{ type: 'track', userId: 'u', messageId: 'no-name' }, { type: 'identify', traits: {} }, { type: 'track', event: 'Fine', userId: 'u' }] },
      { authorization: basic(source.writeKey) },
    );
    assert.equal(sent.json.rejected.length, 2);
    await eventually(async () => {
      const res = await fetch(`${server!.url}/api/failed-events`, { headers: { authorization: `Bearer ${token(dataDir)}` } });
      return ((await res.json()) as { failedEvents: unknown[] }).failedEvents.length === 6;
    }, 20_000, 100);

    const dry = replay(serverEnv, '--dry-run');
    assert.deepEqual(dry, { examined: 6, valid: 4, stillFailing: { WEIR_EVENT_MISSING_EVENT_NAME: 1, WEIR_EVENT_MISSING_IDENTITY: 1 }, dryRun: true });

    const first = replay(serverEnv);
    assert.equal(first.valid, 4);
    await loaded(server);
    assert.equal(await count(server, 'crawled'), 3);
    assert.equal(await count(server, 'pages'), 1);

    // Replayed once: a second replay skips them, and listings show when they were replayed.
    assert.deepEqual(replay(serverEnv), { examined: 2, valid: 0, stillFailing: { WEIR_EVENT_MISSING_EVENT_NAME: 1, WEIR_EVENT_MISSING_IDENTITY: 1 }, dryRun: false });
    const listed = weir(['failed', 'list', '--json'], { env }).stdout.trim().split('\n').map((l) => JSON.parse(l) as { reason: string; replayedAt: string | null });
    assert.deepEqual(listed.filter((f) => f.replayedAt !== null).map((f) => f.reason), Array(4).fill('WEIR_EVENT_BOT'));

    // Forced again, through the API as the UI's button does: appended again, still once in the warehouse.
    const res = await fetch(`${server.url}/api/failed-events/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token(dataDir)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'WEIR_EVENT_BOT', again: true }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { examined: 4, valid: 4, stillFailing: {}, nextAfterId: null, dryRun: false });
    const unauthenticated = await fetch(`${server.url}/api/failed-events/replay`, { method: 'POST' });
    assert.equal(unauthenticated.status, 401);
    await loaded(server);
    assert.equal(await count(server, 'crawled'), 3);
    assert.equal(await count(server, 'pages'), 1);
    assert.equal(await server.stop(), 0);

    // Without a server the command appends itself.
    assert.equal(replay(env, '--again', '--source', 'default', '--reason', 'weir_event_bot').valid, 4);
    server = await WeirServer.start({ dataDir });
    await loaded(server);
    assert.equal(await count(server, 'crawled'), 3);
    assert.equal(await count(server, 'pages'), 1);

    // Three replays, the same ids each time, the original receivedAt kept.
    const copies = new Map<string, number>();
    for (const r of tailAll(dataDir)) {
      if (r.event.event !== 'Crawled' && r.event.type !== 'page') continue;
      assert.equal(r.event.receivedAt, receivedAt);
      copies.set(r.event.messageId, (copies.get(r.event.messageId) ?? 0) + 1);
    }
    assert.equal(copies.size, 4);
    assert.deepEqual([...copies.values()], [3, 3, 3, 3]);
    assert.ok(copies.has('bot-m1') && copies.has('bot-m2'));
    assert.equal(await server.stop(), 0);
  } finally {
    await server?.stop();
    removeDir(dataDir);
  }
});
