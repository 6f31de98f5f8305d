/**
 * weir.js: Weir's browser tracker. Built by `scripts/build-tracker.mjs` into one minified IIFE
 * (`dist/public/weir.js`, at most 2 KB gzipped) and configured by its own script tag:
 *
 * ```html
 * <script defer src="https://weir.example.com/weir.js" data-write-key="wk_…" data-cookieless data-respect-dnt></script>
 * ```
 *
 * Events go to `<origin of src>/v1/batch` (or `data-api`), Segment-shaped, in batches at most ~1 s
 * apart. Page views are automatic (also on single-page-app history changes) unless
 * `data-auto="false"`; engaged time is reported by "Page Ping" events.
 *
 * @example
 * ```js
 * window.weir = window.weir || []; // calls made before the script loads are replayed
 * weir.push(['track', 'Signed Up', { plan: 'pro' }]);
 * // once loaded:
 * weir.identify('u1', { email: 'a@example.com' });
 * weir.track('Order Completed', { total: 12.5 });
 * weir.page('Pricing');
 * ```
 */

declare const __WEIR_VERSION__: string;

type Props = Record<string, unknown>;
type Call = [string, ...unknown[]];

/** The public API on `window.weir`. */
export interface Weir {
  page(name?: string, properties?: Props): void;
  track(event: string, properties?: Props): void;
  identify(userId: string, traits?: Props): void;
  /** Runs one queued call, so `weir.push([...])` keeps working after the script loaded. */
  push(call: Call): void;
}

declare global {
  interface Window {
    weir?: Weir | Call[];
  }
}

const PING_EVERY = 15;
const ACTIVE_MS = 5e3;
const FLUSH_MS = 1e3;
const BATCH_MAX = 10;

const w = window;
const d = document;
const nav = navigator;
const loc = location;

// Valid RFC 4122 v4 ids without crypto.randomUUID, which plain-http pages do not have.
const uuid = (): string =>
  '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (+c ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (+c / 4)))).toString(16),
  );

const now = (): string => new Date().toISOString();

function start(script: HTMLScriptElement): void {
  const data = script.dataset;
  const flag = (v: string | undefined): boolean => v != null && v != 'false';
  const writeKey = data.writeKey;
  const endpoint = (data.api || new URL(script.src).origin).replace(/\/$/, '') + '/v1/batch';
  const cookieless = flag(data.cookieless);
  const off =
    flag(data.respectDnt) &&
    (nav.doNotTrack == '1' || (nav as { globalPrivacyControl?: boolean }).globalPrivacyControl === true);
  // Cookieless mode keeps nothing in the browser; the collector derives a daily visitor id instead.
  const persist = !cookieless && !off;

  const store = (key: string, value?: string): string | null | undefined => {
    try {
      if (value === undefined) return localStorage.getItem(key);
      localStorage.setItem(key, value);
    } catch {
      // Storage can be disabled or full; the ids then live for this page only.
    }
    return value;
  };

  let anonymousId: string | null | undefined;
  let userId: string | null | undefined;
  let returning = false;
  if (persist) {
    anonymousId = store('weir_aid');
    returning = !!anonymousId;
    if (!anonymousId) store('weir_aid', (anonymousId = uuid()));
    userId = store('weir_uid');
  }

  const base: Props = {
    library: { name: 'weir.js', version: __WEIR_VERSION__ },
    screen: { width: screen.width, height: screen.height, density: devicePixelRatio },
    locale: nav.language,
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  };
  if (cookieless) base.cookieless = true;
  else base.returning = returning;

  let queue: Props[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;

  const flush = (beacon?: boolean): void => {
    clearTimeout(timer);
    timer = undefined;
    if (!queue.length) return;
    const body = JSON.stringify({ batch: queue, writeKey, sentAt: now() });
    queue = [];
    // text/plain is a CORS-safelisted type: no preflight, and sendBeacon accepts it.
    if (!(beacon && nav.sendBeacon(endpoint, new Blob([body], { type: 'text/plain' })))) {
      fetch(endpoint, {
        method: 'POST',
        keepalive: true,
        credentials: 'omit',
        body,
        headers: { 'Content-Type': 'text/plain' },
      }).catch(() => {});
    }
  };

  // The page context of the current page view, shared by every event of it (a ping sent after an
  // SPA navigation still describes the page it measured).
  let page: Props = {};
  let pageViewId: string | undefined;
  let pageKey: string | undefined;
  let referrer = d.referrer;
  let ticks = 0;
  let engaged = 0;
  let reported = 0;
  let depth = 0;
  let lastActive = 0;

  const enqueue = (event: Props): void => {
    if (off) return;
    event.messageId = uuid();
    event.timestamp = now();
    event.context = { ...base, page };
    if (anonymousId) event.anonymousId = anonymousId;
    if (userId) event.userId = userId;
    queue.push(event);
    if (queue.length >= BATCH_MAX) flush();
    else timer ??= setTimeout(flush, FLUSH_MS);
  };

  const track = (event: string, properties?: Props): void =>
    enqueue({ type: 'track', event, properties: { page_view_id: pageViewId, ...properties } });

  // The last ping of a page view, on pagehide, says so (page_leave), so live views drop the
  // reader at once instead of when the window runs out.
  const ping = (leave?: boolean): void => {
    track('Page Ping', {
      engaged_seconds: engaged - reported,
      total_engaged_seconds: engaged,
      max_scroll_depth: depth,
      ...(leave && { page_leave: true }),
    });
    reported = engaged;
  };
  const reportRest = (): void => {
    if (engaged > reported) ping();
  };

  const api: Weir = {
    page(name, properties) {
      reportRest();
      pageViewId = uuid();
      ticks = engaged = reported = depth = 0;
      pageKey = loc.pathname + loc.search;
      page = { url: loc.href, path: loc.pathname, search: loc.search, title: d.title, referrer };
      referrer = loc.href;
      enqueue({ type: 'page', name, properties: { ...page, ...properties, page_view_id: pageViewId } });
    },
    track,
    identify(id, traits) {
      userId = id;
      if (persist) store('weir_uid', id);
      enqueue({ type: 'identify', traits });
    },
    push(call) {
      (api[call[0] as keyof Weir] as (...args: unknown[]) => void)(...call.slice(1));
    },
  };
  const queued = w.weir;
  w.weir = api;
  if (off) return;

  const onActivity = (e: Event): void => {
    lastActive = Date.now();
    if (e.type == 'click') {
      const a = (e.target as Element).closest?.('a[href]') as HTMLAnchorElement | null;
      if (a && a.host != loc.host && /^http/.test(a.protocol)) track('Outbound Link Clicked', { url: a.href });
    }
  };
  for (const type of ['mousemove', 'keydown', 'scroll', 'touchstart', 'click']) {
    d.addEventListener(type, onActivity, { capture: true, passive: true });
  }

  setInterval(() => {
    if (!pageViewId) return;
    const active = d.visibilityState == 'visible' && Date.now() - lastActive < ACTIVE_MS;
    if (active) {
      engaged++;
      const seen = ((scrollY + innerHeight) / d.documentElement.scrollHeight) * 100;
      depth = Math.max(depth, Math.min(100, Math.round(seen)));
    }
    if (++ticks % PING_EVERY == 0 && active) ping();
  }, 1e3);

  const onLeave = (e: Event): void => {
    if (e.type == 'pagehide') {
      if (pageViewId) ping(true);
    } else if (d.visibilityState == 'hidden') reportRest();
    else return;
    flush(true);
  };
  w.addEventListener('pagehide', onLeave);
  d.addEventListener('visibilitychange', onLeave);

  if (data.auto != 'false') {
    const onNavigate = (): void => {
      if (loc.pathname + loc.search != pageKey) api.page();
    };
    for (const method of ['pushState', 'replaceState'] as const) {
      const original = history[method];
      history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
        original.apply(this, args);
        onNavigate();
      };
    }
    w.addEventListener('popstate', onNavigate);
    api.page();
  }
  if (Array.isArray(queued)) queued.forEach(api.push);
}

const current = (d.currentScript || d.querySelector('script[data-write-key]')) as HTMLScriptElement | null;
// A second copy of the script on the same page must not patch history or count views twice.
if (current && !(w.weir && !Array.isArray(w.weir))) start(current);
