import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { useBrowser, type BrowserTest } from '../helpers/browser.js';
import { startTrackerSite, WRITE_KEY, type SentEvent, type TrackerSite } from './tracker-site.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const START = new Date('2026-03-02T09:00:00.000Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const VIEWPORT = { width: 1000, height: 800 };

// Records, inside the page, every body the tracker hands to fetch or sendBeacon. Absence ("sent
// nothing") is read from here: it is exact once the fake clock has run, with no wait for a network.
const SPY = `(() => {
  const sent = (window.__sent = []);
  const f = window.fetch;
  window.fetch = function (input, init) { sent.push({ via: 'fetch', body: init && init.body }); return f.apply(this, arguments); };
  const b = navigator.sendBeacon;
  navigator.sendBeacon = function (url, data) { sent.push({ via: 'beacon', body: data }); return b.call(navigator, url, data); };
})()`;
const READ_SPY = `Promise.all(window.__sent.map(async (s) => ({
  via: s.via, body: JSON.parse(typeof s.body === 'string' ? s.body : await s.body.text()),
})))`;
const HIDE_TAB = `Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
document.dispatchEvent(new Event('visibilitychange'))`;

interface Sent {
  via: 'fetch' | 'beacon';
  body: { batch: SentEvent[]; writeKey: string; sentAt: string };
}

interface Opened {
  site: TrackerSite;
  page: Page;
  /** Bodies handed to the network so far, as the page sent them. */
  sent(): Promise<Sent[]>;
  /** Every event of {@link sent}, in order. */
  events(): Promise<SentEvent[]>;
  /** Advances the page's fake clock, firing the timers that fall due. */
  run(ms: number): Promise<void>;
}

interface PageOptions {
  /** Extra attributes of the script tag. */
  attrs?: string;
  /** Markup before the script tag. */
  head?: string;
  /** Markup inside a 4000 px tall body. */
  body?: string;
  path?: string;
}

function html(site: TrackerSite, o: PageOptions): string {
  return `<!doctype html><html><head><title>Tracker test</title>${o.head ?? ''}
<script defer src="${site.weirOrigin}/weir.js" data-write-key="${WRITE_KEY}" ${o.attrs ?? ''}></script></head>
<body style="margin:0"><div style="height:4000px">${o.body ?? ''}</div></body></html>`;
}

const pingsOf = (events: SentEvent[]) => events.filter((e) => e.event === 'Page Ping');
const pagesOf = (events: SentEvent[]) => events.filter((e) => e.type === 'page');

describe('weir.js in Chromium', () => {
  const browser = useBrowser();

  /**
   * A test with a collector, a page holding the script (with a paused fake clock) and, after the
   * body, the checks every test shares: the page talked to no other host, and the collector
   * accepted everything the tracker sent (unless `acceptAll` is false).
   */
  const trackerTest = (
    title: string,
    fn: (open: (o?: PageOptions, page?: Page) => Promise<Opened>, b: BrowserTest) => Promise<void>,
    options: { acceptAll?: boolean; context?: BrowserContextOptions } = {},
  ) =>
    browser.test(
      title,
      async (b) => {
        const site = await startTrackerSite();
        const urls: string[] = [];
        b.context.on('request', (r) => void urls.push(r.url()));
        await b.context.addInitScript(SPY);
        try {
          await fn(async (o = {}, page = b.page) => {
            // Not '/': the collector's app redirects it to the web UI.
            const path = o.path ?? '/article';
            site.page(path, html(site, o));
            // Installed a minute early, as real time flows until the pause; no page is open yet.
            await page.clock.install({ time: START.getTime() - 60_000 });
            await page.clock.pauseAt(START);
            await page.goto(site.siteOrigin + path);
            const sent = async () => (await page.evaluate(READ_SPY)) as Sent[];
            return {
              site,
              page,
              sent,
              events: async () => (await sent()).flatMap((s) => s.body.batch),
              run: (ms) => page.clock.runFor(ms),
            };
          }, b);
          for (const url of urls) {
            const { origin, protocol } = new URL(url);
            if (protocol === 'data:' || protocol === 'about:') continue;
            assert.ok(origin === site.siteOrigin || origin === site.weirOrigin, `the page requested ${url}`);
          }
          assert.equal(site.requests.filter((r) => r.method === 'OPTIONS').length, 0, 'text/plain bodies need no CORS preflight');
          if (options.acceptAll !== false) assert.deepEqual(site.failed, [], 'the collector accepted every event');
        } finally {
          await site.close();
        }
      },
      { viewport: VIEWPORT, ...options.context },
    );

  trackerTest('sends a pageview on load: one text/plain batch to the script origin, Segment-shaped, accepted', async (open) => {
    const { site, page, run } = await open({ path: '/docs/start?ref=mail' });
    await run(1000);
    const [event] = await site.until('the pageview', () => site.accepted.length === 1 && site.accepted);
    const batch = site.batches();
    assert.equal(batch.length, 1);
    assert.equal(batch[0]!.host, new URL(site.weirOrigin).host);
    assert.match(String(batch[0]!.headers['content-type']), /^text\/plain/);
    assert.equal(batch[0]!.headers.cookie, undefined);

    const url = `${site.siteOrigin}/docs/start?ref=mail`;
    const pageContext = { url, path: '/docs/start', search: '?ref=mail', title: 'Tracker test', referrer: '' };
    assert.equal(event!.type, 'page');
    assert.match(event!.messageId, UUID);
    assert.match(event!.anonymousId, UUID);
    assert.equal(event!.userId, undefined);
    assert.equal(event!.originalTimestamp, START.toISOString());
    assert.match(event!.properties.page_view_id, UUID);
    assert.deepEqual(event!.properties, { ...pageContext, page_view_id: event!.properties.page_view_id });
    assert.deepEqual(event!.context.page, pageContext);
    assert.deepEqual(event!.context.library, { name: 'weir.js', version: VERSION });
    assert.deepEqual(event!.context.screen, { width: VIEWPORT.width, height: VIEWPORT.height, density: 1 });
    assert.equal(typeof event!.context.locale, 'string');
    assert.equal(typeof event!.context.timezone, 'string');
    assert.equal(event!.context.returning, false);
    assert.equal(event!.context.cookieless, undefined);
    assert.equal(await page.evaluate('localStorage.getItem("weir_aid")'), event!.anonymousId);

    // The next page load is the same visitor, now returning.
    await page.reload();
    await run(1000);
    // Leaving the first page sent its last ping (page_leave) before the second page view.
    const [, again] = await site.until('the second pageview', () => pagesOf(site.accepted).length === 2 && pagesOf(site.accepted));
    assert.equal(again!.anonymousId, event!.anonymousId);
    assert.equal(again!.context.returning, true);
    assert.notEqual(again!.properties.page_view_id, event!.properties.page_view_id);
  });

  trackerTest('counts single-page-app navigations once per URL: pushState, replaceState, popstate', async (open) => {
    const { page, run, events } = await open({ path: '/app' });
    await page.evaluate(`history.pushState({}, '', '/app/two');
      history.pushState({}, '', '/app/two');
      history.replaceState({}, '', '/app/two#details');
      history.replaceState({}, '', '/app/three?tab=1')`);
    await page.evaluate(`new Promise((resolve) => { addEventListener('popstate', resolve, { once: true }); history.back(); })`);
    await run(1000);
    const views = pagesOf(await events());
    assert.deepEqual(
      views.map((e) => [e.properties.path, e.properties.search]),
      [['/app', ''], ['/app/two', ''], ['/app/three', '?tab=1'], ['/app/two', '']],
    );
    assert.equal(new Set(views.map((e) => e.properties.page_view_id)).size, 4);
    // Each SPA view names the previous one as its referrer.
    assert.equal(views[1]!.context.page.referrer, views[0]!.context.page.url);
    assert.equal(views[2]!.context.page.referrer, views[1]!.context.page.url);
  });

  trackerTest('track and identify: payloads, and several calls travel as one request', async (open) => {
    const { site, page, run } = await open({ attrs: 'data-auto="false"' });
    await page.evaluate(`weir.identify('u1', { plan: 'pro' });
      weir.track('Signed Up', { plan: 'pro', seats: 3 });
      weir.page('Pricing', { variant: 'b' });
      weir.track('Viewed Plans')`);
    assert.equal(site.batches().length, 0, 'nothing is sent before the batch window ends');
    await run(1000);
    const events = await site.until('the batch', () => site.accepted.length === 4 && site.accepted);
    assert.equal(site.batches().length, 1);
    const [identify, signedUp, pricing, viewed] = events;
    assert.equal(identify!.type, 'identify');
    assert.equal(identify!.userId, 'u1');
    assert.deepEqual(identify!.traits, { plan: 'pro' });
    assert.equal(signedUp!.type, 'track');
    assert.equal(signedUp!.event, 'Signed Up');
    assert.equal(signedUp!.userId, 'u1');
    // No page view yet (data-auto="false"), so no page_view_id.
    assert.deepEqual(signedUp!.properties, { plan: 'pro', seats: 3 });
    assert.equal(pricing!.type, 'page');
    assert.equal(pricing!.name, 'Pricing');
    assert.equal(pricing!.properties.variant, 'b');
    assert.deepEqual(viewed!.properties, { page_view_id: pricing!.properties.page_view_id });
    assert.equal(new Set(events.map((e) => e.messageId)).size, 4);
    assert.equal(await page.evaluate('localStorage.getItem("weir_uid")'), 'u1');

    // Ten queued events go at once, without waiting for the clock.
    await page.evaluate(`for (let i = 0; i < 10; i++) weir.track('Item', { i })`);
    await site.until('the full batch', () => site.accepted.length === 14);
    assert.equal(site.batches().length, 2);
    assert.deepEqual(site.accepted.slice(4).map((e) => e.properties.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  trackerTest('calls queued before the script loaded are replayed after the pageview', async (open) => {
    const { run, events } = await open({
      head: `<script>window.weir = window.weir || []; weir.push(['track', 'Early', { n: 1 }]); weir.push(['identify', 'u7']);</script>`,
    });
    await run(1000);
    const [view, early, identify] = await events();
    assert.equal(view!.type, 'page');
    assert.equal(early!.event, 'Early');
    assert.deepEqual(early!.properties, { page_view_id: view!.properties.page_view_id, n: 1 });
    assert.equal(identify!.userId, 'u7');
  });

  trackerTest('pings every 15 s while the reader is active, with engaged seconds and scroll depth; a final ping on hide', async (open) => {
    const { page, run, events, sent } = await open();
    // 4000 px of page in an 800 px viewport: scrolled to 1600 the reader has seen 60%, to 2400 80%.
    const scrolls: Record<number, number> = { 0: 1600, 5: 2400, 10: 800 };
    for (let s = 0; s < 15; s++) {
      if (scrolls[s] !== undefined) await page.evaluate(`scrollTo(0, ${scrolls[s]})`);
      await page.mouse.move(100 + s, 100);
      await run(1000);
    }
    await run(1000);
    let pings = pingsOf(await events());
    assert.equal(pings.length, 1);
    const [view] = pagesOf(await events());
    const pageViewId = view!.properties.page_view_id;
    // The depth is the deepest point, though the reader scrolled back up.
    assert.deepEqual(pings[0]!.properties, {
      page_view_id: pageViewId,
      engaged_seconds: 15,
      total_engaged_seconds: 15,
      max_scroll_depth: 80,
    });

    // The last move was at 14 s: the seconds ending at 16, 17 and 18 s are still engaged (active in
    // the last 5 s), later ones are not, so the ping due at 30 s is not sent.
    await run(19_000);
    pings = pingsOf(await events());
    assert.equal(pings.length, 1, 'no ping while the reader is idle');

    await page.evaluate(HIDE_TAB);
    const final = (await sent()).at(-1)!;
    assert.equal(final.via, 'beacon');
    assert.deepEqual(pingsOf(final.body.batch).map((p) => p.properties), [
      { page_view_id: pageViewId, engaged_seconds: 3, total_engaged_seconds: 18, max_scroll_depth: 80 },
    ]);

    // Hidden, even a busy reader is not engaged.
    for (let s = 0; s < 30; s++) {
      await page.keyboard.press('Shift');
      await run(1000);
    }
    assert.equal(pingsOf(await events()).length, 2);
  });

  trackerTest('an idle reader sends no ping, and nothing more on leaving', async (open) => {
    const { page, run, sent } = await open();
    await run(31_000);
    await page.evaluate(HIDE_TAB);
    await run(1000);
    const all = await sent();
    assert.equal(all.length, 1);
    assert.deepEqual(all[0]!.body.batch.map((e) => e.type), ['page']);
  });

  trackerTest('an SPA navigation reports the engaged time of the view it leaves', async (open) => {
    const { page, run, events } = await open();
    for (let s = 0; s < 4; s++) {
      await page.keyboard.press('a');
      await run(1000);
    }
    await page.evaluate(`history.pushState({}, '', '/next')`);
    await run(1000);
    const all = await events();
    const views = pagesOf(all);
    assert.equal(views.length, 2);
    assert.deepEqual(pingsOf(all).map((p) => p.properties), [
      { page_view_id: views[0]!.properties.page_view_id, engaged_seconds: 4, total_engaged_seconds: 4, max_scroll_depth: 20 },
    ]);
    assert.equal(pingsOf(all)[0]!.context.page.path, '/article', 'the ping describes the page it measured');
  });

  trackerTest('clicks on links to another host are tracked with the page view id', async (open) => {
    const { page, run, events } = await open({
      // The page itself keeps the browser here, so the test needs no other host.
      head: `<script>document.addEventListener('click', (e) => e.preventDefault())</script>`,
      body: `<a id="out" href="https://elsewhere.example/pricing?x=1">out</a>
        <a id="in" href="/about">in</a><a id="rel" href="about">rel</a><a id="mail" href="mailto:a@example.com">mail</a>
        <a id="nested" href="https://docs.example/"><span id="inner">docs</span></a>`,
    });
    for (const id of ['in', 'rel', 'mail', 'out', 'inner']) await page.click(`#${id}`);
    await run(1000);
    const all = await events();
    const [view] = pagesOf(all);
    assert.deepEqual(
      all.filter((e) => e.event === 'Outbound Link Clicked').map((e) => e.properties),
      [
        { page_view_id: view!.properties.page_view_id, url: 'https://elsewhere.example/pricing?x=1' },
        { page_view_id: view!.properties.page_view_id, url: 'https://docs.example/' },
      ],
    );
  });

  trackerTest('on pagehide the queue leaves as a beacon the collector receives', async (open) => {
    const { site, page } = await open();
    await page.evaluate(`weir.track('Last Words', { n: 1 })`);
    assert.equal(site.batches().length, 0);
    await page.close({ runBeforeUnload: true });
    const events = await site.until('the beacon', () => site.accepted.length === 3 && site.accepted);
    assert.deepEqual(events.map((e) => e.event ?? e.type), ['page', 'Last Words', 'Page Ping']);
    // The last ping of a page view says the reader left, so live views drop them at once.
    assert.equal(events[2]!.properties.page_leave, true);
    assert.equal(events[2]!.properties.page_view_id, events[0]!.properties.page_view_id);
    const [beacon] = site.batches();
    assert.equal(site.batches().length, 1);
    // sendBeacon's requests are no-cors; a fetch from the page would be cors.
    assert.equal(beacon!.headers['sec-fetch-mode'], 'no-cors');
    assert.match(String(beacon!.headers['content-type']), /^text\/plain/);
  });

  trackerTest(
    'cookieless mode stores nothing in the browser and marks its events',
    async (open, { context }) => {
      const { site, page, run } = await open({ attrs: 'data-cookieless' });
      await page.evaluate(`weir.identify('u1'); weir.track('Signed Up')`);
      await run(1000);
      await page.reload();
      await run(1000);
      // Items as sent, whether or not the collector could give them an identity.
      const items = () => [...site.accepted, ...site.failed.map((f) => f.payload)];
      // The reload sent the first page view's leave ping.
      const all = await site.until('five items', () => items().length === 5 && items());
      assert.deepEqual(all.map((e) => e.type).sort(), ['identify', 'page', 'page', 'track', 'track']);
      for (const e of all) {
        assert.equal(e.anonymousId, undefined);
        assert.equal(e.context.cookieless, true);
        assert.equal(e.context.returning, undefined);
      }
      // The user id lived in memory only: the reloaded page does not know it.
      assert.deepEqual(all.filter((e) => e.userId === 'u1').map((e) => e.event ?? e.type).sort(), ['Page Ping', 'Signed Up', 'identify']);
      const stored = await page.evaluate('[localStorage.length, sessionStorage.length, document.cookie]');
      assert.deepEqual(stored, [0, 0, '']);
      assert.deepEqual(await context.cookies(), []);
    },
    // The collector derives the visitor id of cookieless events; until it does, they have no identity.
    { acceptAll: false },
  );

  trackerTest('with data-respect-dnt, Do Not Track or Global Privacy Control mean nothing is sent', async (open, { context }) => {
    const optOuts = [
      `Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' })`,
      `Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })`,
    ];
    for (const optOut of optOuts) {
      const page = await context.newPage();
      await page.addInitScript(optOut);
      const { run, sent } = await open({ attrs: 'data-respect-dnt' }, page);
      await page.evaluate(`weir.identify('u1'); weir.track('A'); weir.page()`);
      await page.mouse.move(10, 10);
      await run(20_000);
      await page.evaluate(HIDE_TAB);
      assert.deepEqual(await sent(), [], optOut);
      assert.equal(await page.evaluate('localStorage.length'), 0);
    }
    // The same browser without data-respect-dnt is tracked: the attribute is what opts in.
    const page = await context.newPage();
    await page.addInitScript(optOuts[0]!);
    const { run, events, site } = await open({ attrs: '' }, page);
    await run(1000);
    assert.deepEqual((await events()).map((e) => e.type), ['page']);
    await site.until('the pageview', () => site.accepted.length === 1);
  });
});
