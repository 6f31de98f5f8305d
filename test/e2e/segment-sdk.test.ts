import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Analytics } from '@segment/analytics-node';
import { WeirServer, removeDir, tailAll, tempDir } from '../helpers/weir-process.js';

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
});
