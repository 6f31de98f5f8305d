import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WeirServer, basic, eventually, post, removeDir, tempDir, weir } from '../helpers/weir-process.js';

interface Usage {
  accepted: number;
  failed: number;
  bytes: number;
}

type BySource = Record<string, Usage>;

function add(into: BySource, source: string, u: Partial<Usage>): void {
  const t = (into[source] ??= { accepted: 0, failed: 0, bytes: 0 });
  t.accepted += u.accepted ?? 0;
  t.failed += u.failed ?? 0;
  t.bytes += u.bytes ?? 0;
}

/** `weir usage --format json`, summed per source name over every period. */
function cliUsage(env: NodeJS.ProcessEnv, by = 'hour'): BySource {
  const r = weir(['usage', '--format', 'json', '--by', by], { env });
  assert.equal(r.status, 0, r.stderr);
  const out: BySource = {};
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const row = JSON.parse(line) as Usage & { source: string };
    add(out, row.source, row);
  }
  return out;
}

/** What the logs hold per source: every record counted once, bytes as stored. */
function stored(dataDir: string, names: Map<string, string>): BySource {
  const out: BySource = {};
  for (const failed of [false, true]) {
    const r = weir(['tail', '--from-start', '--idle-exit', '300', ...(failed ? ['--failed'] : [])], { env: { WEIR_DATA_DIR: dataDir } });
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const rec = JSON.parse(line) as { sourceId: string };
      add(out, names.get(rec.sourceId)!, { [failed ? 'failed' : 'accepted']: 1, bytes: Buffer.byteLength(line) });
    }
  }
  return out;
}

test('usage meter: counts equal what was sent, across a restart; weir usage and GET /api/usage agree', { timeout: 120_000 }, async () => {
  const dataDir = tempDir('weir-usage-');
  const env = { WEIR_DATA_DIR: dataDir };
  let server: WeirServer | undefined;
  try {
    const app = JSON.parse(weir(['sources', 'create', 'app', '--json'], { env }).stdout) as { id: string; writeKey: string };
    const sources = JSON.parse(weir(['sources', 'list', '--json'], { env }).stdout) as Array<{ id: string; name: string; writeKey: string }>;
    const names = new Map(sources.map((s) => [s.id, s.name]));
    const defaultKey = sources.find((s) => s.name === 'default')!.writeKey;

    const sent: BySource = {};
    let n = 0;
    /** Sends `good` valid and `bad` invalid events, with payloads of different sizes. */
    const send = async (server: WeirServer, key: string, source: string, good: number, bad: number) => {
      const batch = [
        ...Array.from({ length: good }, () => ({ type: 'track', event: 'Metered', userId: 'u', properties: { pad: 'p'.repeat(n++ % 97) } })),
        ...Array.from({ length: bad }, () => ({ type: 'track', userId: 'u', properties: { pad: 'q'.repeat(n++ % 89) } })),
      ];
      const r = await post(server, '/v1/batch', { batch }, { authorization: basic(key) });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.rejected?.length ?? 0, bad);
      add(sent, source, { accepted: good, failed: bad });
    };
    const apiUsage = async (query = '') => {
      const token = readFileSync(join(dataDir, 'cli-token'), 'utf8').trim();
      const res = await fetch(`${server!.url}/api/usage${query}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      return (await res.json()) as { by: string; usage: Array<Usage & { source: string; period: string }> };
    };
    const counted = async (want: BySource) => {
      const got: BySource = {};
      for (const row of (await apiUsage()).usage) add(got, row.source, row);
      for (const [s, u] of Object.entries(want)) if (got[s]?.accepted !== u.accepted || got[s]?.failed !== u.failed) return false;
      return true;
    };

    server = await WeirServer.start({ dataDir });
    await send(server, defaultKey, 'default', 30, 4);
    await send(server, app.writeKey, 'app', 7, 0);
    await send(server, app.writeKey, 'app', 0, 3);
    await eventually(() => counted(sent), 20_000, 200);
    assert.equal(await server.stop(), 0);

    server = await WeirServer.start({ dataDir });
    await send(server, defaultKey, 'default', 11, 2);
    await send(server, app.writeKey, 'app', 5, 1);
    await eventually(() => counted(sent), 20_000, 200);

    // Exactly what was sent: the counts, and the bytes of the records as the logs store them.
    const expected = stored(dataDir, names);
    for (const [s, u] of Object.entries(sent)) {
      assert.equal(expected[s]?.accepted, u.accepted, `${s}: the log holds what was sent`);
      assert.equal(expected[s]?.failed, u.failed);
    }
    assert.deepEqual(cliUsage(env), expected);
    assert.deepEqual(cliUsage(env, 'month'), expected);

    const body = await apiUsage('?by=day');
    assert.equal(body.by, 'day');
    const viaApi: BySource = {};
    for (const row of body.usage) {
      assert.match(row.period, /^\d{4}-\d{2}-\d{2}$/);
      add(viaApi, row.source, row);
    }
    assert.deepEqual(viaApi, expected);

    const appRows = (await apiUsage('?source=app&by=month')).usage;
    assert.ok(appRows.length > 0 && appRows.every((r) => r.source === 'app'));
    assert.equal(appRows.reduce((a, r) => a + r.accepted, 0), 12);

    assert.equal((await fetch(`${server.url}/api/usage`)).status, 401, 'admin token needed');
    // The CLI bootstrapped the store (and showed the token then); the server leaves one for local tools.
    const token = readFileSync(join(dataDir, 'cli-token'), 'utf8').trim();
    const badBy = await fetch(`${server.url}/api/usage?by=week`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(badBy.status, 400);
    const badCli = weir(['usage', '--since', 'yesterday'], { env });
    assert.equal(badCli.status, 2);
    assert.match(badCli.stderr, /--since/);
    const table = weir(['usage', '--by', 'month'], { env });
    assert.match(table.stdout, /^PERIOD\s+SOURCE\s+ACCEPTED\s+FAILED\s+BYTES/);
    assert.match(table.stdout, new RegExp(`total\\s+${expected.default!.accepted + expected.app!.accepted}\\s`));
    assert.equal(await server.stop(), 0);
  } finally {
    await server?.stop();
    removeDir(dataDir);
  }
});
