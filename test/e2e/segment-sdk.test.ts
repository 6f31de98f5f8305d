import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Analytics } from '@segment/analytics-node';
import { WeirServer, eventually, removeDir, tailAll, tempDir, weir } from '../helpers/weir-process.js';

let server: WeirServer;
let dataDir: string;

before(async () => {
  dataDir = tempDir();
  server = await WeirServer.start({ dataDir });
});
after(async () => {
  await server.stop();
  removeDir(dataDir);
});

test('@segment/analytics-node pointed at Weir: every event lands in the log', async () => {
  const analytics = new Analytics({ writeKey: server.writeKey, host: server.url, flushAt: 20, flushInterval: 200, maxRetries: 3 });
  const errors: unknown[] = [];
  analytics.on('error', (err) => errors.push(err));
  const sent = new Map<string, string>();
  const callbacks: Promise<void>[] = [];
  const done = (type: string) => {
    let resolve!: () => void;
    callbacks.push(new Promise<void>((r) => (resolve = r)));
    return (err: unknown, ctx: { event: { messageId?: string } } | undefined) => {
      if (err) errors.push(err);
      else if (ctx?.event.messageId) sent.set(ctx.event.messageId, type);
      resolve();
    };
  };
  for (let i = 0; i < 100; i++) {
    analytics.track({ userId: `user-${i % 7}`, event: 'Item Viewed', properties: { i, price: i * 1.5 } }, done('track'));
    if (i % 10 === 0) {
      analytics.identify({ userId: `user-${i}`, traits: { plan: 'pro' } }, done('identify'));
      analytics.page({ anonymousId: `anon-${i}`, name: 'Pricing', properties: { path: '/pricing' } }, done('page'));
      analytics.screen({ userId: `user-${i}`, name: 'Home' }, done('screen'));
      analytics.group({ userId: `user-${i}`, groupId: `org-${i}`, traits: { name: 'Acme' } }, done('group'));
      analytics.alias({ userId: `user-${i}`, previousId: `anon-${i}` }, done('alias'));
    }
  }
  await analytics.closeAndFlush({ timeout: 20_000 });
  await Promise.all(callbacks);
  assert.deepEqual(errors, []);
  assert.equal(sent.size, 150);

  const logged = new Map(tailAll(dataDir).map((r) => [r.event.messageId as string, r.event]));
  for (const [messageId, type] of sent) {
    const event = logged.get(messageId);
    assert.ok(event, `${type} ${messageId} is in the log`);
    assert.equal(event.type, type);
    assert.equal(event.context?.library?.name, '@segment/analytics-node');
  }

  // …and the same events are queryable in the warehouse (DuckDB, loaded by `weir up`), through
  // `weir query`, which asks the running server.
  const env = { WEIR_DATA_DIR: dataDir, WEIR_SERVER_PORT: String(server.port), WEIR_SERVER_HOST: '127.0.0.1' };
  const counts = await eventually(() => {
    const r = weir(['query', 'select (select count(*) from tracks) as tracks, (select count(*) from item_viewed) as item_viewed, (select count(*) from identifies) as identifies, (select count(*) from pages) as pages, (select count(*) from screens) as screens, (select count(*) from groups) as groups, (select count(*) from aliases) as aliases, (select count(*) from users) as users', '--format', 'json'], { env });
    if (r.status !== 0) return undefined;
    const row = JSON.parse(r.stdout.trim()) as Record<string, number>;
    return row.tracks === 100 && row.aliases === 10 ? row : undefined;
  }, 15_000, 250);
  assert.deepEqual(counts, { tracks: 100, item_viewed: 100, identifies: 10, pages: 10, screens: 10, groups: 10, aliases: 10, users: 10 });
  const revenue = weir(['query', "select sum(price) as total from item_viewed where user_id = 'user-0'", '--format', 'csv'], { env });
  assert.equal(revenue.status, 0, revenue.stderr);
  // i = 0, 7, 14, … 98 have user-0; price = i × 1.5.
  const expected = Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 7 === 0).reduce((a, i) => a + i * 1.5, 0);
  assert.equal(revenue.stdout, `total\n${expected}\n`);
});
