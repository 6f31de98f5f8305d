import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { campaignMedium, enrichCampaign, parseCampaign } from './campaign.js';
import { readPage } from './page.js';

function campaignOf(url: string, context: Record<string, unknown> = {}): unknown {
  const ctx: Record<string, unknown> = { ...context, page: { url } };
  enrichCampaign({ type: 'page' }, ctx);
  return ctx.campaign;
}

describe('campaign', () => {
  it('reads all six UTM parameters in Segment naming', () => {
    assert.deepEqual(
      campaignOf(
        'https://example.com/spring?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale&utm_term=running+shoes&utm_content=hero%20banner&utm_id=cmp-42',
      ),
      { source: 'newsletter', medium: 'email', name: 'spring_sale', term: 'running shoes', content: 'hero banner', id: 'cmp-42' },
    );
  });

  it('maps ad click ids to clickId, with the source and medium they imply when the UTMs give none', () => {
    const cases: Array<[string, unknown]> = [
      ['gclid=Cj0KCQiA2KitBhCIARIsAPPMEhI', { source: 'google', medium: 'cpc', clickId: { type: 'gclid', id: 'Cj0KCQiA2KitBhCIARIsAPPMEhI' } }],
      ['gbraid=0AAAAADqn', { source: 'google', medium: 'cpc', clickId: { type: 'gbraid', id: '0AAAAADqn' } }],
      ['wbraid=CkwKCQ', { source: 'google', medium: 'cpc', clickId: { type: 'wbraid', id: 'CkwKCQ' } }],
      ['dclid=CJ7', { source: 'google', medium: 'display', clickId: { type: 'dclid', id: 'CJ7' } }],
      ['msclkid=7b7e3e2f', { source: 'bing', medium: 'cpc', clickId: { type: 'msclkid', id: '7b7e3e2f' } }],
      ['fbclid=IwAR2x', { source: 'facebook', medium: 'social', clickId: { type: 'fbclid', id: 'IwAR2x' } }],
      ['ttclid=E.C.P', { source: 'tiktok', medium: 'cpc', clickId: { type: 'ttclid', id: 'E.C.P' } }],
      ['twclid=2-abc', { source: 'twitter', medium: 'cpc', clickId: { type: 'twclid', id: '2-abc' } }],
      ['li_fat_id=9f8e', { source: 'linkedin', medium: 'cpc', clickId: { type: 'li_fat_id', id: '9f8e' } }],
      ['yclid=123456', { source: 'yandex', medium: 'cpc', clickId: { type: 'yclid', id: '123456' } }],
      // UTMs win; the click id is still recorded.
      ['utm_source=adwords&utm_medium=ppc&gclid=X1', { source: 'adwords', medium: 'ppc', clickId: { type: 'gclid', id: 'X1' } }],
      // A UTM source alone does not get a medium from the click id: both come from one place.
      ['utm_source=partner&fbclid=F', { source: 'partner', clickId: { type: 'fbclid', id: 'F' } }],
      // Several click ids: gclid ranks first whatever the order.
      ['fbclid=F&gclid=G', { source: 'google', medium: 'cpc', clickId: { type: 'gclid', id: 'G' } }],
    ];
    for (const [query, expected] of cases) assert.deepEqual(campaignOf(`https://shop.example.com/p?${query}`), expected, query);
  });

  it('keeps the client-sent campaign fields and adds only the missing ones', () => {
    const client = { name: 'From analytics.js', source: 'newsletter' };
    const ctx: Record<string, unknown> = { campaign: client, page: { url: 'https://e.com/?utm_source=other&utm_medium=email&utm_campaign=x' } };
    enrichCampaign({ type: 'page' }, ctx);
    assert.deepEqual(ctx.campaign, { name: 'From analytics.js', source: 'newsletter', medium: 'email' });
    assert.deepEqual(client, { name: 'From analytics.js', source: 'newsletter' }, "the client's object is not written");
  });

  it('falls back to page.search or properties.search without a URL', () => {
    const ctx: Record<string, unknown> = { page: { search: '?utm_source=qr&utm_medium=print' } };
    enrichCampaign({ type: 'track' }, ctx);
    assert.deepEqual(ctx.campaign, { source: 'qr', medium: 'print' });
    const server: Record<string, unknown> = {};
    enrichCampaign({ type: 'page', properties: { search: 'utm_source=srv' } }, server);
    assert.deepEqual(server.campaign, { source: 'srv' });
  });

  it('ignores empty, unknown and malformed parameters; first value wins; keys are case-insensitive', () => {
    assert.equal(parseCampaign(''), null);
    assert.equal(parseCampaign('page=2&sort=asc'), null);
    assert.equal(parseCampaign('utm_source=&utm_medium='), null);
    assert.equal(parseCampaign('constructor=1&__proto__=2&toString=3'), null);
    assert.deepEqual(parseCampaign('UTM_Source=Mixed&utm_source=second'), { source: 'Mixed' });
    assert.deepEqual(parseCampaign('utm_source=%E0%A4%A&utm_medium=ok'), { source: '%E0%A4%A', medium: 'ok' });
    assert.deepEqual(campaignOf('https://e.com/#utm_source=hash'), undefined);
  });

  it('campaignMedium prefers the client-sent medium over the URL', () => {
    const context = { page: { url: 'https://e.com/?utm_medium=email' } };
    const page = readPage({ type: 'page' }, context);
    assert.equal(campaignMedium(context, page), 'email');
    assert.equal(campaignMedium({ ...context, campaign: { medium: 'social' } }, page), 'social');
    assert.equal(campaignMedium({}, readPage({ type: 'page' }, {})), undefined);
  });
});
