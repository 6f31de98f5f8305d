import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { enrichPageUrl } from './page-url.js';
import { parseUrlParts, splitUrl } from './url.js';

describe('splitUrl', () => {
  it('splits host, path and raw query like the browser location does', () => {
    const cases: Array<[string, { host: string; path: string; query: string } | null]> = [
      ['https://www.example.com/pricing?plan=pro&utm_source=x#faq', { host: 'www.example.com', path: '/pricing', query: 'plan=pro&utm_source=x' }],
      ['https://Shop.Example.COM:8443/Cart', { host: 'shop.example.com', path: '/Cart', query: '' }],
      ['https://example.com', { host: 'example.com', path: '/', query: '' }],
      ['https://example.com?x=1', { host: 'example.com', path: '/', query: 'x=1' }],
      ['https://example.com/#/app?tab=2', { host: 'example.com', path: '/', query: '' }],
      ['https://user:pw@example.com./a%20b?', { host: 'example.com', path: '/a%20b', query: '' }],
      ['http://[2001:db8::1]:8080/x?y', { host: '[2001:db8::1]', path: '/x', query: 'y' }],
      ['http://bücher.example/straße', { host: 'bücher.example', path: '/straße', query: '' }],
      ['file:///Users/ada/index.html', { host: '', path: '/Users/ada/index.html', query: '' }],
      ['/relative/path', null],
      ['example.com/path', null],
      ['https://exa mple.com/', null],
      ['https://example.com:99999999/', null],
      ['https://[::1/', null],
      ['javascript:alert(1)', null],
      ['', null],
    ];
    for (const [url, expected] of cases) {
      assert.deepEqual(parseUrlParts(url), expected, url);
      assert.deepEqual(splitUrl(url), expected, url);
    }
  });

  it('agrees with new URL on host, path and query for ordinary URLs', () => {
    for (const url of [
      'https://www.example.com/products/sku-1?utm_source=google&utm_medium=cpc',
      'http://localhost:3000/?a=1&b=2',
      'https://sub.domain.example.co.uk/a/b/c/',
      'https://example.com/search?q=a%20b+c',
    ]) {
      const u = new URL(url);
      assert.deepEqual(splitUrl(url), { host: u.hostname, path: u.pathname, query: u.search.slice(1) }, url);
    }
  });
});

describe('enrichPageUrl', () => {
  it('adds host, path and query from context.page.url, keeping what the client sent', () => {
    const clientPage = { url: 'https://example.com/docs/start?ref=nav', path: '/docs/start', search: '?ref=nav', title: 'Start' };
    const context: Record<string, unknown> = { page: clientPage };
    enrichPageUrl({ type: 'track' }, context);
    assert.deepEqual(context.page, { ...clientPage, host: 'example.com', query: 'ref=nav' });
    assert.equal('host' in clientPage, false, "the client's page object is not written");

    const own: Record<string, unknown> = { page: { url: 'https://example.com/a?b=1', path: '/custom', host: 'example.org', query: 'q' } };
    const before = own.page;
    enrichPageUrl({ type: 'track' }, own);
    assert.equal(own.page, before, 'nothing to add: the same object stays');
  });

  it("uses properties.url of a page call when there is no context.page", () => {
    const context: Record<string, unknown> = {};
    enrichPageUrl({ type: 'page', properties: { url: 'https://example.com/blog/post-1' } }, context);
    assert.deepEqual(context, { page: { host: 'example.com', path: '/blog/post-1', query: '' } });
    const track: Record<string, unknown> = {};
    enrichPageUrl({ type: 'track', properties: { url: 'https://example.com/' } }, track);
    assert.deepEqual(track, {}, 'properties.url of a track call is the track call’s own data');
  });

  it('leaves malformed URLs and odd page values alone, never throwing', () => {
    for (const page of [{ url: 'not a url' }, { url: 42 }, { url: 'https://exa mple.com/' }, 'https://example.com/', null]) {
      const context: Record<string, unknown> = { page };
      enrichPageUrl({ type: 'page' }, context);
      assert.deepEqual(context, { page }, JSON.stringify(page));
    }
  });
});
