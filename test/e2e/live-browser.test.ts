import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { useBrowser } from '../helpers/browser.js';
import { WeirServer, basic, post, removeDir, tempDir } from '../helpers/weir-process.js';
import { createUser, signIn } from '../helpers/ui-session.js';

const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
/** Where the other readers' pages are. */
const SITE = 'https://news.example';
const XSS_TITLE = '<img src=x onerror="window.__xss=1">Breaking';

/** Readers of other pages, sent the way weir.js sends them, so the page has something to rank. */
function otherReaders(): unknown[] {
  const pages: Array<[path: string, title: string, readers: number, referrer: string]> = [
    ['/politics/budget-vote', 'Budget passes after all-night session', 5, 'https://www.google.com/'],
    ['/sport/final', 'Cup final: live', 3, 'https://t.co/abc'],
    ['/culture/review', 'Review: the opera that ran six hours', 2, ''],
  ];
  const events: unknown[] = [];
  let n = 0;
  for (const [path, title, readers, referrer] of pages) {
    for (let i = 0; i < readers; i++) {
      const pageViewId = randomUUID();
      const context = { page: { url: `${SITE}${path}`, path, title, referrer }, returning: n++ % 3 === 0 };
      const anonymousId = `reader-${path}-${i}`;
      events.push({ type: 'page', messageId: randomUUID(), anonymousId, context, properties: { page_view_id: pageViewId } });
      events.push({
        type: 'track',
        event: 'Page Ping',
        messageId: randomUUID(),
        anonymousId,
        context,
        properties: { page_view_id: pageViewId, engaged_seconds: i % 2 === 0 ? 15 : 0, total_engaged_seconds: 15 + i * 20, max_scroll_depth: (i * 37) % 100 },
      });
    }
  }
  return events;
}

describe('the Live page in Chromium', () => {
  const browser = useBrowser();

  browser.test('shows a reader of a page with the real tracker within 2 s, and drops them when the tab closes', async ({ context: liveContext }, t) => {
    const dataDir = tempDir('weir-live-browser-');
    const server = await WeirServer.start({ dataDir, startTimeoutMs: 90_000 });
    const site = await customerSite(
      `<!doctype html><html><head><title>${XSS_TITLE.replace(/</g, '&lt;')}</title>
<script defer src="${server.url}/weir.js" data-write-key="${server.writeKey}"></script></head>
<body><h1>Story</h1><div style="height:3000px"></div></body></html>`,
    );
    const visitorContext = await liveContext.browser()!.newContext({ userAgent: CHROME, viewport: { width: 1000, height: 800 } });
    try {
      assert.equal((await post(server, '/v1/batch', { batch: otherReaders() }, { authorization: basic(server.writeKey), 'user-agent': CHROME })).status, 200);

      // The Live page, for a viewer signed in through the log-in form.
      createUser(dataDir, 'reader@example.com', undefined, { role: 'viewer' });
      const live = await liveContext.newPage();
      await live.setViewportSize({ width: 1280, height: 1100 });
      await signIn(live, server.url, 'reader@example.com');
      await live.goto(`${server.url}/ui/live`);
      const total = live.getByTestId('live-total');
      await live.getByTestId('live-status').filter({ hasText: 'live' }).waitFor({ timeout: 15_000 });
      await assertText(total, '10', 5000);

      // A reader opens a story on the customer's site (another origin; loopback like Weir, or
      // Chromium's private-network rules would block the script), which loads weir.js from Weir.
      const story = `${site.origin}/story/real-reader?utm_source=x`;
      const reader = await visitorContext.newPage();
      const pageview = reader.waitForResponse((r) => r.url().endsWith('/v1/batch') && r.status() === 200);
      await reader.goto(story);
      await pageview;
      const sent = Date.now();
      await assertText(total, '11', 2000);
      t.diagnostic(`the reader showed on the Live page ${Date.now() - sent} ms after the page view was acknowledged`);
      const row = live.locator('.page-row', { hasText: '/story/real-reader' });
      await row.waitFor({ timeout: 2000 });
      // The page title arrives as typed by the site: text, never markup.
      assert.equal(await row.locator('.page-title').textContent(), XSS_TITLE);
      assert.equal(await live.evaluate('window.__xss'), undefined);
      assert.equal(await live.locator('.page-row img').count(), 0);
      assert.equal(await live.locator('.page-row a.page-path', { hasText: '/story/real-reader' }).getAttribute('href'), story);
      await live.locator('.live-chart canvas').first().waitFor();
      mkdirSync(ARTIFACTS, { recursive: true });
      await live.screenshot({ path: `${ARTIFACTS}live.png`, fullPage: true });

      // Closing the tab fires pagehide; its beacon says the reader left, long before the window ends.
      const closed = Date.now();
      await reader.close({ runBeforeUnload: true });
      await assertText(total, '10', 5000);
      await row.waitFor({ state: 'detached', timeout: 2000 });
      t.diagnostic(`the reader left the Live page ${Date.now() - closed} ms after the tab closed`);
    } finally {
      await visitorContext.close();
      await site.close();
      await server.stop();
      await server.crash();
      removeDir(dataDir);
    }
  });
});

/** Serves `html` at every path of http://localhost:<port>. */
async function customerSite(html: string): Promise<{ origin: string; close(): Promise<void> }> {
  const srv = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    origin: `http://localhost:${(srv.address() as AddressInfo).port}`,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

async function assertText(locator: import('playwright-core').Locator, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await locator.textContent();
    if (last === text) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`expected ${text} within ${timeoutMs} ms, still ${last}`);
}
