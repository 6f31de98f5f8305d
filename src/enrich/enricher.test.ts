import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { WeirError, errorMessage } from '../errors/catalogue.js';
import { createEnricher, DEFAULT_ENRICH_SETTINGS, type EnrichSettings, type GeoIpReader } from './enricher.js';
import { useCityDatabase } from '../../test/helpers/geoip-fixture.js';
import { UA } from '../../test/helpers/user-agents.js';

const SALT = Buffer.from('weir-test-salt-0123456789');
const settings = (over: Partial<EnrichSettings> = {}): EnrichSettings => ({ ...DEFAULT_ENRICH_SETTINGS, ...over });

const QUERY = 'utm_source=newsletter&utm_medium=email&utm_campaign=spring';
const PAGE = {
  url: `https://www.example.com/sale?${QUERY}`,
  path: '/sale',
  search: `?${QUERY}`,
  referrer: 'https://mail.google.com/',
  title: 'Spring sale',
};
const LIBRARY = { name: 'analytics.js', version: 'next-1.70.0' };

/** A page view as analytics.js sends it, after the collector's normalisation. */
function pageView(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'page',
    anonymousId: 'anon-1',
    userId: 'user-7',
    messageId: 'm-1',
    properties: { title: 'Spring sale' },
    context: { ip: '81.2.69.160', userAgent: UA.iphoneSafari, locale: 'en-GB', library: { ...LIBRARY }, page: { ...PAGE } },
    ...over,
  };
}

describe('createEnricher', () => {
  const db = useCityDatabase();
  let geoip: GeoIpReader;
  before(() => {
    geoip = db().geoip;
  });

  it('default settings: every enrichment, ip truncated, geoip from the full address', () => {
    const enrich = createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, geoip, salt: SALT });
    const event = pageView();
    const r = enrich(event);
    assert.ok(r.ok);
    assert.equal(r.event, event, 'enriched in place');
    assert.deepEqual(JSON.parse(JSON.stringify(r.event.context)), {
      ip: '81.2.69.0',
      userAgent: UA.iphoneSafari,
      locale: 'en-GB',
      library: LIBRARY,
      page: { ...PAGE, host: 'www.example.com', query: QUERY },
      browser: { name: 'Mobile Safari', version: '18.1' },
      os: { name: 'iOS', version: '18.1' },
      device: { type: 'mobile' },
      campaign: { source: 'newsletter', medium: 'email', name: 'spring' },
      referrer: { type: 'email', name: 'Gmail', host: 'mail.google.com' },
      location: { country: 'GB', region: 'England', city: 'London' },
    });
    assert.equal(r.event.userId, 'user-7');
  });

  it('does not write into the objects of the item the client sent', () => {
    const enrich = createEnricher({ settings: settings({ pseudonymise: ['context.traits.email'] }), geoip, salt: SALT });
    const item = pageView({ context: { ...(pageView().context as object), traits: { email: 'ada@example.com' } } });
    const sent = JSON.parse(JSON.stringify(item)) as Record<string, unknown>;
    // The normaliser copies the top level only: the event shares context (and everything in it).
    const event = { ...item };
    assert.ok(enrich(event).ok);
    assert.deepEqual(item, sent);
  });

  it('each switch turns its step off', () => {
    const enrich = createEnricher({
      settings: settings({ userAgent: false, referrer: false, campaign: false, pageUrl: false, ip: 'keep', geoip: false }),
      geoip,
      salt: SALT,
    });
    const event = pageView();
    const before = JSON.parse(JSON.stringify(event)) as unknown;
    const r = enrich(event);
    assert.ok(r.ok);
    assert.deepEqual(r.event, before);
  });

  it("ip 'drop' removes the address after the GeoIP lookup; without a reader there is no location", () => {
    const dropped = createEnricher({ settings: settings({ ip: 'drop' }), geoip, salt: SALT })(pageView());
    assert.ok(dropped.ok);
    const context = JSON.parse(JSON.stringify(dropped.event.context)) as Record<string, unknown>;
    assert.equal('ip' in context, false);
    assert.deepEqual(context.location, { country: 'GB', region: 'England', city: 'London' });
    const noReader = createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt: SALT })(pageView());
    assert.ok(noReader.ok);
    assert.equal((noReader.event.context as Record<string, unknown>).location, undefined);
  });

  it("bots are flagged under 'keep' and refused with WEIR_EVENT_BOT under 'fail', before anything changes", () => {
    const keep = createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt: SALT })(pageView({ context: { userAgent: UA.googlebot, ip: '66.249.66.1' } }));
    assert.ok(keep.ok);
    assert.deepEqual(keep.event.context, { userAgent: UA.googlebot, ip: '66.249.66.0', bot: true, botName: 'Googlebot', device: { type: 'bot' } });

    const fail = createEnricher({ settings: settings({ bots: 'fail' }), salt: SALT });
    const event = pageView({ context: { userAgent: UA.gptbot, ip: '20.171.206.7', page: { url: 'https://example.com/?gclid=x' } } });
    const sent = JSON.stringify(event);
    const r = fail(event);
    assert.deepEqual(r, { ok: false, code: 'WEIR_EVENT_BOT', params: { name: 'GPTBot' } });
    assert.equal(JSON.stringify(event), sent, 'the event is kept as it came');
    assert.ok(!r.ok);
    assert.equal(errorMessage(r.code, r.params), 'event comes from a bot or crawler (GPTBot)');
    assert.deepEqual(fail(pageView({ context: { userAgent: '' } })), { ok: false, code: 'WEIR_EVENT_BOT', params: { name: 'empty user agent' } });
    assert.deepEqual(fail(pageView({ context: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) | Firefox/133.0' } })), { ok: false, code: 'WEIR_EVENT_BOT', params: { name: 'unnamed' } });
    assert.ok(fail(pageView()).ok, 'a browser passes');
    assert.ok(fail({ type: 'track', event: 'Order Completed', userId: 'u', context: { library: { name: 'analytics-node' } } }).ok, 'a server-side event passes');
  });

  it('pseudonymises the listed fields last, deterministically', () => {
    const enrich = createEnricher({ settings: settings({ pseudonymise: ['userId', 'traits.email'] }), salt: SALT });
    const hmac = (s: string) => `ps_${createHmac('sha256', SALT).update(s).digest('hex').slice(0, 32)}`;
    const a = enrich({ type: 'identify', userId: 'user-7', traits: { email: 'ada@example.com', name: 'Ada' } });
    const b = enrich({ type: 'track', event: 'X', userId: 'user-7' });
    assert.ok(a.ok && b.ok);
    assert.deepEqual(a.event, { type: 'identify', userId: hmac('user-7'), traits: { email: hmac('ada@example.com'), name: 'Ada' } });
    assert.equal(b.event.userId, a.event.userId, 'joins still work');
  });

  it('adds no context to an event that had none and gains nothing', () => {
    const enrich = createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt: SALT });
    const r = enrich({ type: 'track', event: 'Order Completed', userId: 'u', properties: { total: 10 } });
    assert.ok(r.ok);
    assert.equal('context' in r.event, false);
    const page = enrich({ type: 'page', userId: 'u', properties: { url: 'https://example.com/docs?utm_source=hn', referrer: 'https://news.ycombinator.com/' } });
    assert.ok(page.ok);
    assert.deepEqual(page.event.context, {
      page: { host: 'example.com', path: '/docs', query: 'utm_source=hn' },
      campaign: { source: 'hn' },
      referrer: { type: 'social', name: 'Hacker News', host: 'news.ycombinator.com' },
    });
  });

  it('refuses settings it cannot apply', () => {
    const bad: Array<Partial<EnrichSettings>> = [
      { bots: 'drop' as 'keep' },
      { ip: 'hash' as 'keep' },
      { pseudonymise: ['userId'] },
    ];
    for (const over of bad) {
      assert.throws(
        () => createEnricher({ settings: settings(over), salt: Buffer.alloc(4) }),
        (err: unknown) => err instanceof WeirError && err.code === 'WEIR_CONFIG_INVALID',
        JSON.stringify(over),
      );
    }
  });

  it('DEFAULT_ENRICH_SETTINGS is frozen and as documented', () => {
    assert.ok(Object.isFrozen(DEFAULT_ENRICH_SETTINGS));
    assert.deepEqual(DEFAULT_ENRICH_SETTINGS, {
      userAgent: true,
      referrer: true,
      campaign: true,
      pageUrl: true,
      bots: 'keep',
      ip: 'truncate',
      geoip: true,
      pseudonymise: [],
    });
  });
});
