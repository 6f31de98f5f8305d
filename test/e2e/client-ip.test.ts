import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WeirServer, basic, post, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

test('client ip: kept only when configured; X-Forwarded-For believed only from trusted proxies', async () => {
  const dataDir = tempDir('weir-ip-');
  const servers: WeirServer[] = [];
  try {
    // Whole addresses, so the trust rules can be told apart (the default truncates them).
    const set = weir(['sources', 'update', 'default', '--set', 'enrich.ip=keep'], { env: { WEIR_DATA_DIR: dataDir } });
    assert.equal(set.status, 0, set.stderr);
    const server = await WeirServer.start({
      dataDir,
      workers: 1,
      env: { WEIR_SERVER_KEEP_CLIENT_IP: 'true', WEIR_SERVER_TRUST_PROXY: '127.0.0.1' },
    });
    servers.push(server);
    // The CLI created the source before the server's first start, so the banner shows no key.
    server.writeKey = (JSON.parse(weir(['sources', 'list', '--json'], { env: { WEIR_DATA_DIR: dataDir } }).stdout) as Array<{ writeKey: string }>)[0]!.writeKey;
    const h = { authorization: basic(server.writeKey) };
    assert.equal((await post(server, '/v1/track', { event: 'A', userId: 'u', messageId: 'direct' }, h)).status, 200);
    assert.equal(
      (await post(server, '/v1/track', { event: 'A', userId: 'u', messageId: 'proxied' }, { ...h, 'x-forwarded-for': '203.0.113.9' })).status,
      200,
    );
    await server.stop();
    const byId = new Map(tailAll(dataDir).map((r) => [r.event.messageId, r.event]));
    assert.equal(byId.get('direct')?.context?.ip, '127.0.0.1');
    assert.equal(byId.get('proxied')?.context?.ip, '203.0.113.9');

    // Default configuration: no ip stored, even one the client sent itself.
    const plain = await WeirServer.start({ dataDir, workers: 1 });
    servers.push(plain);
    plain.writeKey = server.writeKey;
    const r = await post(plain, '/v1/track', { event: 'A', userId: 'u', messageId: 'no-ip', context: { ip: '198.51.100.7' } }, h);
    assert.equal(r.status, 200);
    await plain.stop();
    const stored = tailAll(dataDir).find((x) => x.event.messageId === 'no-ip');
    assert.equal(stored?.event.context?.ip, undefined);
  } finally {
    // A failed assertion must not leave a server running (it would keep the test process alive).
    for (const s of servers) await s.stop().catch(() => {});
    removeDir(dataDir);
  }
});
