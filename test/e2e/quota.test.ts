import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteStateStore } from '../../src/state/sqlite/index.js';
import { WeirServer, basic, eventually, post, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

function ok(args: string[], env: NodeJS.ProcessEnv): string {
  const r = weir(args, { env });
  assert.equal(r.status, 0, `weir ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Workspaces with a source each, set up directly in the metadata store: spawning the CLI for each
 * step would cost more than the rest of the test (the CLI's own tests cover these commands).
 */
async function setUp(dataDir: string, quotas: Record<string, Record<string, unknown>>): Promise<Record<string, string>> {
  const state = await openSqliteStateStore({ file: join(dataDir, 'weir.sqlite') });
  try {
    const keys: Record<string, string> = { default: (await state.bootstrap()).source.writeKey };
    for (const [name, settings] of Object.entries(quotas)) {
      const ws = await state.createWorkspace(name);
      await state.updateWorkspaceSettings(ws.id, settings);
      keys[name] = (await state.createSource({ workspaceId: ws.id, name: `${name}-web` })).writeKey;
    }
    return keys;
  } finally {
    await state.close();
  }
}

const track = (messageId: string) => ({ event: 'Quota', userId: 'u', messageId });

test('monthly quota: refuse with 429, a code and Retry-After, or accept and flag; other workspaces unaffected; kept across a restart', { timeout: 120_000 }, async () => {
  const dataDir = tempDir('weir-quota-');
  const env = { WEIR_DATA_DIR: dataDir };
  let server: WeirServer | undefined;
  try {
    const keys = await setUp(dataDir, { capped: { monthlyEventQuota: 5 }, flagged: { monthlyEventQuota: 3, quotaMode: 'flag' } });
    const capped = { writeKey: keys.capped! };
    const flagged = { writeKey: keys.flagged! };
    const defaultKey = keys.default!;
    const bad = weir(['workspaces', 'update', 'capped', '--set', 'quotaMode=sometimes'], { env });
    assert.equal(bad.status, 2, 'a bad setting exits 2');
    assert.ok(bad.stderr.includes('WEIR_CLI_INVALID_OPTION') && bad.stderr.includes('quotaMode=sometimes'), bad.stderr);

    // One collector: what it accepted is counted at once, so the refusal does not wait for the meter.
    server = await WeirServer.start({ dataDir, workers: 1 });
    const send = (key: string, body: object, path = '/v1/batch') => post(server!, path, body, { authorization: basic(key) });

    assert.equal((await send(capped.writeKey, { batch: [1, 2, 3, 4].map((i) => ({ type: 'track', ...track(`c${i}`) })) })).status, 200);
    // Four of five used: this batch crosses the quota and is accepted whole.
    assert.equal((await send(capped.writeKey, { batch: [5, 6].map((i) => ({ type: 'track', ...track(`c${i}`) })) })).status, 200);
    const refused = await send(capped.writeKey, track('c7'), '/v1/track');
    assert.equal(refused.status, 429);
    assert.equal(refused.json.code, 'WEIR_QUOTA_EXCEEDED');
    assert.match(refused.json.message, /capped .* monthly quota of 5 events/);
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
    assert.equal((await send(defaultKey, track('d1'), '/v1/track')).status, 200, 'another workspace is unaffected');

    for (let i = 0; i < 5; i++) assert.equal((await send(flagged.writeKey, track(`f${i}`), '/v1/track')).status, 200);

    const events = new Map(tailAll(dataDir).map((r) => [r.event.messageId as string, r.event]));
    assert.equal(events.has('c7'), false, 'a refused request stores nothing');
    assert.deepEqual(
      ['f0', 'f1', 'f2', 'f3', 'f4'].map((id) => events.get(id)?.context?.weir?.overQuota ?? false),
      [false, false, false, true, true],
    );
    assert.equal(events.get('d1')?.context, undefined);

    // The meter's count is what a restarted collector starts from.
    const token = readFileSync(join(dataDir, 'cli-token'), 'utf8').trim();
    await eventually(async () => {
      const res = await fetch(`${server!.url}/api/usage?workspace=capped&by=month`, { headers: { authorization: `Bearer ${token}` } });
      const { usage } = (await res.json()) as { usage: Array<{ accepted: number }> };
      return usage.length === 1 && usage[0]!.accepted === 6;
    }, 20_000, 100);
    assert.equal(await server.stop(), 0);
    server = await WeirServer.start({ dataDir, workers: 1, env: { WEIR_LIMITS_QUOTA_REFRESH_MS: '200' } });
    assert.equal((await send(capped.writeKey, track('c8'), '/v1/track')).status, 429);

    // Raising the quota lets the workspace in again within a refresh, without a restart.
    ok(['workspaces', 'update', 'capped', '--set', 'monthlyEventQuota=100'], env);
    await eventually(async () => (await send(capped.writeKey, track('c9'), '/v1/track')).status === 200, 10_000, 100);
    assert.equal(await server.stop(), 0);
  } finally {
    await server?.stop();
    removeDir(dataDir);
  }
});
