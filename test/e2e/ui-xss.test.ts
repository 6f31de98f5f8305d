import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { removeDir, tempDir, WeirServer } from '../helpers/weir-process.js';
import { useBrowser } from '../helpers/browser.js';
import { createUser, seedEvents, signIn } from '../helpers/ui-session.js';

/** Script payloads as they would arrive in titles, urls, names, keys and values. */
const PAYLOADS = [
  '<img src=x onerror=window.__xss=1>',
  '<script>window.__xss=1</script>',
  'javascript:window.__xss=1',
  '"><svg onload=window.__xss=1>',
  "<iframe srcdoc='<script>parent.__xss=1</script>'></iframe>",
  "' onmouseover='window.__xss=1' x='",
  '</pre><img src=x onerror=alert(1)>',
];
const [IMG, SCRIPT, JS_URL, SVG, IFRAME, ATTR, PRE] = PAYLOADS as [string, string, string, string, string, string, string];

function hostileEvents(): unknown[] {
  const page = { title: SCRIPT, url: JS_URL, referrer: SVG, path: `/${IMG}`, search: `?q=${ATTR}` };
  return [
    { type: 'page', name: IMG, anonymousId: SVG, properties: { ...page, [PRE]: IFRAME }, context: { page, userAgent: SCRIPT } },
    { type: 'track', event: IMG, userId: SCRIPT, properties: { [SVG]: JS_URL, [IMG]: SCRIPT, nested: { [ATTR]: PRE } }, context: { page } },
    { type: 'identify', userId: IFRAME, traits: { name: IMG, email: SVG } },
    { type: 'screen', name: ATTR, anonymousId: PRE, properties: { title: IFRAME } },
    // Failed events: no event name (payloads in the item), and an unknown type (a payload in the reason's message).
    { type: 'track', userId: SVG, properties: { title: IMG, url: JS_URL, [SCRIPT]: PRE, all: PAYLOADS }, context: { page } },
    { type: IMG, userId: 'u-1' },
  ];
}

describe('the web UI renders hostile event data as text on every page', () => {
  const browser = useBrowser();
  let server: WeirServer;
  const dataDir = tempDir();
  const email = 'xss-admin@example.com';

  before(async () => {
    server = await WeirServer.start({ dataDir, workers: 1 });
    createUser(dataDir, email, undefined, { role: 'admin' });
    await seedEvents(server, hostileEvents(), 2);
  });
  after(async () => {
    await server?.stop();
    removeDir(dataDir);
  });

  browser.test('no payload runs, opens a dialog or becomes an element; each shows as text somewhere', async ({ page }) => {
    let dialogs = 0;
    page.on('dialog', (d) => {
      dialogs++;
      void d.dismiss();
    });
    await signIn(page, server.url, email);
    // The registry, as the nav shows it: pages added later are covered without editing this test.
    const links = await page.locator('header.top nav a').evaluateAll((as) => as.map((a) => [a.textContent ?? '', a.getAttribute('href') ?? '']));
    assert.ok(links.length >= 2, `nav links: ${JSON.stringify(links)}`);
    let seen = '';
    const pageText = (): Promise<string> =>
      page.evaluate(`document.body.innerText + '\\n' + [...document.querySelectorAll('input, textarea')].map((e) => e.value).join('\\n')`);
    const settle = async (): Promise<string> => {
      // Data arrives after the page mounts; wait until some payload shows, or give up after a while.
      let text = '';
      for (let i = 0; i < 30; i++) {
        text = await pageText();
        if (PAYLOADS.some((p) => text.includes(p))) break;
        await page.waitForTimeout(200);
      }
      await page.waitForTimeout(500);
      return pageText();
    };
    const inert = async (where: string): Promise<void> => {
      assert.equal(await page.evaluate('typeof window.__xss'), 'undefined', `script ran on ${where}`);
      assert.equal(dialogs, 0, `a dialog opened on ${where}`);
      const injected = await page.evaluate(`(() => {
        const found = [];
        for (const el of document.querySelectorAll('*')) {
          for (const a of el.attributes) if (/^on/i.test(a.name)) found.push(el.tagName + '[' + a.name + ']');
        }
        for (const el of document.querySelectorAll('img[src="x"], iframe, svg[onload], a[href^="javascript:" i]')) found.push(el.outerHTML.slice(0, 80));
        for (const s of document.querySelectorAll('script')) if (s.textContent.includes('__xss')) found.push('script');
        return found;
      })()`);
      assert.deepEqual(injected, [], `elements from payloads on ${where}`);
    };

    for (const [title, href] of links) {
      await page.locator('header.top nav a', { hasText: title }).click();
      await page.waitForURL(`**${href}`);
      seen += await settle();
      await inert(title);
      for (const tab of await page.locator('[role=tab]').all()) {
        await tab.click();
        seen += await settle();
        await inert(`${title} / ${await tab.innerText()}`);
      }
      // A full load of the page's own URL too (the router, not only in-app navigation).
      await page.goto(`${server.url}${href}`);
      await page.locator('header.top nav').waitFor();
      seen += await settle();
      await inert(`${title} (reloaded)`);
    }
    for (const p of PAYLOADS) assert.ok(seen.includes(p), `payload ${p} is shown as text on some page`);
  });
});
