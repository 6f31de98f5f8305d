import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createEnricher, DEFAULT_ENRICH_SETTINGS, type EnrichSettings, type GeoIpReader } from './enricher.js';
import { overlapsDescriptiveFields } from './describe.js';
import { decodeLogRecord, encodeAcceptedRecord } from '../events/log-record.js';
import { useCityDatabase } from '../../test/helpers/geoip-fixture.js';
import { BOT_UAS, BROWSER_UAS, UA } from '../../test/helpers/user-agents.js';

const SALT = Buffer.from('weir-test-salt-0123456789');
const settings = (over: Partial<EnrichSettings> = {}): EnrichSettings => ({ ...DEFAULT_ENRICH_SETTINGS, ...over });

const REFERRERS = ['', 'https://www.google.co.uk/', 'https://t.co/', 'https://mail.google.com/', 'https://shop.example.com/cart', 'https://blog.example.org/'];
const URLS = [
  'https://shop.example.com/p/1?utm_source=newsletter&utm_medium=email&utm_campaign=spring',
  'https://shop.example.com/p/2?gclid=Cj0KCQabc',
  'https://shop.example.com/',
  'not a url',
];

/** Normalised events of many shapes: browsers and bots, page calls with page data in properties, odd contexts. */
function events(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const uas = [...BROWSER_UAS.map((k) => UA[k]), ...BOT_UAS.map((k) => UA[k])];
  uas.forEach((ua, i) => {
    out.push({
      type: i % 2 === 0 ? 'page' : 'track',
      event: 'Viewed',
      anonymousId: `a-${i}`,
      messageId: `m-${i}`,
      properties: { n: i },
      context: {
        ip: i % 3 === 0 ? '2001:218:1::7' : '81.2.69.160',
        userAgent: ua,
        library: { name: 'analytics.js', version: '1' },
        page: { url: URLS[i % URLS.length], referrer: REFERRERS[i % REFERRERS.length], path: '/p' },
      },
    });
  });
  out.push({ type: 'page', userId: 'u', messageId: 'props', properties: { url: URLS[0], referrer: REFERRERS[1] } });
  out.push({ type: 'track', event: 'Server', userId: 'u', messageId: 'server' });
  out.push({ type: 'track', event: 'Null', userId: 'u', messageId: 'null', context: null });
  out.push({ type: 'track', event: 'Own', userId: 'u', messageId: 'own', context: { userAgent: UA.iphoneSafari, os: { name: 'iOS', version: '99' }, device: { model: 'iPhone15,2' } } });
  return out;
}

const copy = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** The event as a reader of the log sees it: enriched by `enrich`, stored, decoded. */
function throughTheLog(enrich: ReturnType<typeof createEnricher>, event: Record<string, unknown>): Record<string, unknown> | string {
  const r = enrich(event);
  if (!r.ok) return r.code;
  const d = decodeLogRecord(encodeAcceptedRecord('src_1', r.event, undefined, enrich.deferred));
  assert.equal(d.kind, 'event');
  return d.kind === 'event' ? d.event : 'failed';
}

describe('deferred descriptive steps', () => {
  const db = useCityDatabase();
  let geoip: GeoIpReader;
  before(() => {
    geoip = db().geoip;
  });

  it('collector stage + decode give every reader what the whole enricher gives', () => {
    const variants: Array<Partial<EnrichSettings>> = [
      {},
      { bots: 'fail' },
      { ip: 'drop', pseudonymise: ['userId', 'traits.email'] },
      { userAgent: false, campaign: false },
      { pageUrl: false, referrer: false, ip: 'keep' },
    ];
    for (const over of variants) {
      const whole = createEnricher({ settings: settings(over), geoip, salt: SALT });
      const deferred = createEnricher({ settings: settings(over), geoip, salt: SALT, defer: true });
      assert.ok(deferred.deferred !== undefined && deferred.deferred.length > 0, JSON.stringify(over));
      for (const event of events()) {
        const expected = throughTheLog(whole, copy(event));
        assert.deepEqual(throughTheLog(deferred, copy(event)), typeof expected === 'string' ? expected : copy(expected), `${JSON.stringify(over)} ${String(event.messageId)}`);
      }
    }
  });

  it('the stored record holds no descriptive fields and no full address; bots still fail at the collector', () => {
    const enrich = createEnricher({ settings: settings({ bots: 'fail' }), geoip, salt: SALT, defer: true });
    assert.deepEqual(enrich.deferred, ['userAgent', 'pageUrl', 'campaign', 'referrer']);
    const r = enrich(copy(events()[0]!));
    assert.ok(r.ok);
    const raw = encodeAcceptedRecord('src_1', r.event, undefined, enrich.deferred).toString();
    assert.ok(!raw.includes('81.2.69.160') && !raw.includes('2001:218:1::7'), raw);
    assert.ok(raw.includes('"location"'), 'GeoIP ran on the full address before it was truncated');
    assert.ok(!raw.includes('"browser":') && !raw.includes('"campaign":') && !raw.includes('"host":'), raw);
    assert.deepEqual(enrich({ type: 'page', anonymousId: 'a', context: { userAgent: UA.googlebot } }), {
      ok: false,
      code: 'WEIR_EVENT_BOT',
      params: { name: 'Googlebot' },
    });
  });

  it('a source that pseudonymises what the steps read or write keeps them on the collector', () => {
    for (const path of ['context.userAgent', 'context.page.url', 'context', 'properties.referrer', 'context.campaign.name']) {
      assert.ok(overlapsDescriptiveFields(path), path);
      const enrich = createEnricher({ settings: settings({ pseudonymise: [path] }), salt: SALT, defer: true });
      assert.equal(enrich.deferred, undefined, path);
    }
    for (const path of ['userId', 'traits.email', 'context.traits.email', 'properties.email', 'context.pageviews']) {
      assert.ok(!overlapsDescriptiveFields(path), path);
    }
    const hidden = createEnricher({ settings: settings({ pseudonymise: ['context.userAgent'] }), salt: SALT, defer: true });
    const r = hidden({ type: 'page', anonymousId: 'a', context: { userAgent: UA.chromeWindows } });
    assert.ok(r.ok);
    const context = r.event.context as Record<string, unknown>;
    assert.deepEqual(context.browser, { name: 'Chrome', version: '131.0.0.0' }, 'parsed before hashing');
    assert.match(String(context.userAgent), /^ps_/);
  });

  it('decodeLogRecord skips the steps when asked, and leaves records without an enrich list alone', () => {
    const enrich = createEnricher({ settings: DEFAULT_ENRICH_SETTINGS, salt: SALT, defer: true });
    const r = enrich(copy(events()[0]!));
    assert.ok(r.ok);
    const record = encodeAcceptedRecord('src_1', r.event, undefined, enrich.deferred);
    const plain = decodeLogRecord(record, { enrich: false });
    assert.deepEqual(plain, { kind: 'event', sourceId: 'src_1', event: copy(r.event) });
    const old = decodeLogRecord(encodeAcceptedRecord('src_1', { type: 'track', event: 'A', context: { userAgent: UA.chromeWindows } }));
    assert.deepEqual(old, { kind: 'event', sourceId: 'src_1', event: { type: 'track', event: 'A', context: { userAgent: UA.chromeWindows } } });
  });
});
