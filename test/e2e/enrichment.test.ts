import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirServer, basic, eventually, post, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const FULL_IP = '203.0.113.77';

function rows(r: { status: number | null; stdout: string; stderr: string }): Array<Record<string, unknown>> {
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('enrichment and privacy through weir up: enriched columns, truncated ip everywhere, bots refused then replayed, cookieless ids', { timeout: 180_000 }, async () => {
  const dataDir = tempDir('weir-enrich-e2e-');
  const base = { WEIR_DATA_DIR: dataDir };
  assert.equal(weir(['sources', 'update', 'default', '--set', 'enrich.bots=fail'], { env: base }).status, 0);
  const server = await WeirServer.start({ dataDir, env: { WEIR_SERVER_KEEP_CLIENT_IP: 'true', WEIR_LAKE_MAX_FILE_AGE_MS: '200' } });
  try {
    const env = { ...base, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
    // The CLI created the source before the server's first start, so the banner shows no key.
    server.writeKey = (JSON.parse(weir(['sources', 'list', '--json'], { env }).stdout) as Array<{ writeKey: string }>)[0]!.writeKey;
    const auth = { authorization: basic(server.writeKey) };
    const page = (messageId: string, userAgent: string) => ({
      type: 'page',
      name: 'Story',
      anonymousId: 'a1',
      messageId,
      context: {
        ip: FULL_IP,
        userAgent,
        page: { url: 'https://news.example.com/story?utm_source=newsletter&utm_medium=cpc&utm_campaign=spring&gclid=abc', referrer: 'https://www.google.co.uk/' },
      },
    });
    const sent = await post(server, '/v1/batch', { batch: [page('human', CHROME), page('crawler', GOOGLEBOT)] }, auth);
    assert.equal(sent.status, 200);
    assert.deepEqual(sent.json.rejected.map((r: { code: string }) => r.code), ['WEIR_EVENT_BOT']);

    // A cookieless tracker event: no id of its own, no user agent in the body (the header says it).
    const cookieless = (messageId: string) => ({
      type: 'page',
      messageId,
      context: { cookieless: true, library: { name: 'weir.js', version: '1' }, page: { url: 'https://news.example.com/' } },
    });
    for (const id of ['cl-1', 'cl-2']) {
      assert.equal((await post(server, '/v1/page', cookieless(id), { ...auth, 'user-agent': CHROME })).status, 200);
    }

    const q = (sql: string) => rows(weir(['query', sql, '--format', 'json'], { env }));
    const human = await eventually(() => {
      const r = weir(['query', "select * from pages where id = 'human'", '--format', 'json'], { env });
      return r.status === 0 && r.stdout.trim() !== '' ? (JSON.parse(r.stdout.trim()) as Record<string, unknown>) : undefined;
    }, 20_000, 200);
    // An export cut off by --max-rows says so on stderr: JSON lines have no footer to say it.
    const cut = weir(['query', 'select 1 as n union all select 2', '--format', 'json', '--max-rows', '1'], { env });
    assert.equal(cut.status, 0, cut.stderr);
    assert.equal(cut.stdout.trim().split('\n').length, 1);
    assert.match(cut.stderr, /truncated at 1 rows/);
    assert.equal(human.context_browser_name, 'Chrome');
    assert.equal(human.context_os_name, 'Windows');
    assert.equal(human.context_device_type, 'desktop');
    assert.equal(human.context_referrer_type, 'search');
    assert.equal(human.context_referrer_name, 'Google');
    assert.equal(human.context_campaign_source, 'newsletter');
    assert.equal(human.context_campaign_name, 'spring');
    assert.equal(human.context_page_host, 'news.example.com');
    assert.equal(human.context_page_path, '/story');
    assert.equal(human.context_ip, '203.0.113.0');

    const ids = q("select id, anonymous_id from pages where id like 'cl-%' order by id");
    assert.equal(ids.length, 2);
    assert.match(String(ids[0]!.anonymous_id), /^cl_[0-9a-f]{32}$/);
    assert.equal(ids[0]!.anonymous_id, ids[1]!.anonymous_id, 'the same browser gets the same id all day');

    // The full address is nowhere: not in the log, not in the warehouse, not in the lake.
    assert.ok(!JSON.stringify(tailAll(dataDir)).includes(FULL_IP), 'log');
    assert.ok(!JSON.stringify(q('select * from pages')).includes(FULL_IP), 'warehouse');
    const lake = await eventually(() => {
      const r = weir(['query', '--lake', 'select message_id, context from events', '--format', 'json'], { env });
      const got = r.status === 0 ? rows(r) : [];
      return got.length >= 3 ? got : undefined;
    }, 20_000, 200);
    assert.ok(!JSON.stringify(lake).includes(FULL_IP), 'lake');
    assert.ok(JSON.stringify(lake).includes('203.0.113.0'));

    // Bots are kept from now on: replaying the refused crawler lets it in, flagged, once.
    assert.equal(weir(['sources', 'update', 'default', '--set', 'enrich.bots=keep'], { env }).status, 0);
    for (let round = 0; round < 2; round++) {
      const r = weir(['failed', 'replay', '--json', ...(round === 1 ? ['--again'] : [])], { env, timeoutMs: 60_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { valid: number }).valid, 1);
    }
    const crawler = await eventually(() => {
      const r = weir(['query', "select id, context_bot, context_bot_name, context_device_type from pages where id = 'crawler'", '--format', 'json'], { env });
      return r.status === 0 && r.stdout.trim() !== '' ? rows(r) : undefined;
    }, 20_000, 200);
    assert.deepEqual(crawler, [{ id: 'crawler', context_bot: true, context_bot_name: 'Googlebot', context_device_type: 'bot' }]);
    assert.equal(await server.stop(), 0);
  } finally {
    await server.stop().catch(() => {});
    removeDir(dataDir);
  }
});
