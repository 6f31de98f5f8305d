import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { classifyReferrer, dashboardReferrerClass, enrichReferrer, type ReferrerInfo } from './referrer.js';

const PAGE = 'www.example.com';

describe('classifyReferrer', () => {
  it('knows the big search engines, including country domains', () => {
    const cases: Array<[string, string]> = [
      ['https://www.google.com/', 'Google'],
      ['https://www.google.co.uk/', 'Google'],
      ['https://www.google.com.au/search?q=weir', 'Google'],
      ['https://google.de/', 'Google'],
      ['https://www.bing.com/search?q=event+pipeline&form=QBLH', 'Bing'],
      ['https://cn.bing.com/', 'Bing'],
      ['https://duckduckgo.com/', 'DuckDuckGo'],
      ['https://search.yahoo.com/search?p=weir', 'Yahoo'],
      ['https://yandex.ru/search/?text=weir', 'Yandex'],
      ['https://www.baidu.com/link?url=abc', 'Baidu'],
      ['https://www.ecosia.org/search?q=weir', 'Ecosia'],
      ['android-app://com.google.android.googlequicksearchbox/https/www.google.com', 'Google'],
    ];
    for (const [url, name] of cases) {
      const r = classifyReferrer(url, PAGE);
      assert.equal(r.type, 'search', url);
      assert.equal(r.name, name, url);
    }
  });

  it('knows the social networks, including their link shorteners and redirectors', () => {
    const cases: Array<[string, string]> = [
      ['https://t.co/', 'Twitter'],
      ['https://t.co/Ab12Cd34Ef', 'Twitter'],
      ['https://x.com/weir/status/1', 'Twitter'],
      ['https://l.facebook.com/', 'Facebook'],
      ['https://lm.facebook.com/l.php?u=https%3A%2F%2Fwww.example.com%2F', 'Facebook'],
      ['https://m.facebook.com/', 'Facebook'],
      ['https://www.facebook.com/', 'Facebook'],
      ['https://www.linkedin.com/', 'LinkedIn'],
      ['https://lnkd.in/eXyZ123', 'LinkedIn'],
      ['https://www.reddit.com/r/programming/comments/1abc/weir/', 'Reddit'],
      ['https://out.reddit.com/t3_1abc', 'Reddit'],
      ['https://news.ycombinator.com/item?id=40000000', 'Hacker News'],
      ['https://l.instagram.com/', 'Instagram'],
      ['https://www.youtube.com/', 'YouTube'],
      ['https://www.pinterest.co.uk/', 'Pinterest'],
      ['https://www.tiktok.com/', 'TikTok'],
    ];
    for (const [url, name] of cases) assert.deepEqual(classifyReferrer(url, PAGE), { type: 'social', name, host: new URL(url).hostname }, url);
  });

  it('webmail is email, and is not mistaken for the search engine of the same company', () => {
    assert.deepEqual(classifyReferrer('https://mail.google.com/', PAGE), { type: 'email', name: 'Gmail', host: 'mail.google.com' });
    assert.deepEqual(classifyReferrer('https://outlook.live.com/', PAGE), { type: 'email', name: 'Outlook', host: 'outlook.live.com' });
    assert.deepEqual(classifyReferrer('https://mail.yahoo.com/d/folders/1', PAGE), { type: 'email', name: 'Yahoo Mail', host: 'mail.yahoo.com' });
    assert.deepEqual(classifyReferrer('android-app://com.google.android.gm/', PAGE), { type: 'email', name: 'Gmail', host: 'com.google.android.gm' });
    assert.deepEqual(classifyReferrer('https://webmail.corp.example.net/', PAGE), { type: 'email', host: 'webmail.corp.example.net' });
  });

  it('same site is internal (www. or not); no referrer is direct; the rest is other', () => {
    assert.deepEqual(classifyReferrer('https://www.example.com/pricing', PAGE), { type: 'internal', host: 'www.example.com' });
    assert.deepEqual(classifyReferrer('https://example.com/blog', PAGE), { type: 'internal', host: 'example.com' });
    assert.deepEqual(classifyReferrer('https://www.example.com/', 'example.com'), { type: 'internal', host: 'www.example.com' });
    assert.deepEqual(classifyReferrer('https://blog.example.com/', PAGE), { type: 'other', host: 'blog.example.com' });
    assert.deepEqual(classifyReferrer('https://www.google.com/', 'www.google.com'), { type: 'internal', host: 'www.google.com' });
    for (const none of ['', null, undefined, '   ', 'about:blank']) assert.deepEqual(classifyReferrer(none, PAGE), { type: 'direct' }, String(none));
    assert.deepEqual(classifyReferrer('https://github.com/weir/weir', PAGE), { type: 'other', host: 'github.com' });
    assert.deepEqual(classifyReferrer('https://docs.google.com/document/d/1', PAGE), { type: 'other', host: 'docs.google.com' });
    assert.deepEqual(classifyReferrer('https://google.example.com/', PAGE), { type: 'other', host: 'google.example.com' });
    assert.deepEqual(classifyReferrer('www.google.com/', PAGE), { type: 'search', name: 'Google', host: 'www.google.com' });
    assert.deepEqual(classifyReferrer('not a url', PAGE), { type: 'other' });
    assert.deepEqual(classifyReferrer('https://www.example.com/', undefined), { type: 'other', host: 'www.example.com' });
  });

  it('gives the dashboard its five classes, email counted as other', () => {
    const types = ['search', 'social', 'email', 'internal', 'direct', 'other'] as const;
    assert.deepEqual(types.map(dashboardReferrerClass), ['search', 'social', 'other', 'internal', 'direct', 'other']);
  });
});

describe('enrichReferrer', () => {
  const run = (event: Record<string, unknown>, context: Record<string, unknown>): ReferrerInfo | undefined => {
    enrichReferrer(event, context);
    return context.referrer as ReferrerInfo | undefined;
  };

  it('classifies context.page.referrer against the page URL', () => {
    assert.deepEqual(run({ type: 'page' }, { page: { url: 'https://www.example.com/', referrer: 'https://news.ycombinator.com/' } }), {
      type: 'social',
      name: 'Hacker News',
      host: 'news.ycombinator.com',
    });
    assert.deepEqual(run({ type: 'page' }, { page: { url: 'https://www.example.com/b', referrer: 'https://www.example.com/a' } }), {
      type: 'internal',
      host: 'www.example.com',
    });
    assert.deepEqual(run({ type: 'page' }, { page: { url: 'https://www.example.com/', referrer: '' } }), { type: 'direct' });
    assert.deepEqual(run({ type: 'page' }, { page: { url: 'https://www.example.com/' } }), { type: 'direct' });
  });

  it('uses properties.url and properties.referrer of a page call', () => {
    assert.deepEqual(run({ type: 'page', properties: { url: 'https://example.com/', referrer: 'https://duckduckgo.com/' } }, {}), {
      type: 'search',
      name: 'DuckDuckGo',
      host: 'duckduckgo.com',
    });
  });

  it('utm_medium=email makes an empty or outside referrer email, but not an internal one', () => {
    const url = 'https://www.example.com/offer?utm_source=newsletter&utm_medium=email';
    assert.deepEqual(run({ type: 'page' }, { page: { url, referrer: '' } }), { type: 'email' });
    assert.deepEqual(run({ type: 'page' }, { page: { url, referrer: 'https://www.google.com/' } }), { type: 'email', host: 'www.google.com' });
    assert.deepEqual(run({ type: 'page' }, { page: { url, referrer: 'https://www.example.com/' } }), { type: 'internal', host: 'www.example.com' });
    assert.deepEqual(run({ type: 'page' }, { page: { url: 'https://www.example.com/', referrer: '' }, campaign: { medium: 'Email' } }), { type: 'email' });
  });

  it("leaves events without page data, and a client-sent context.referrer, alone", () => {
    assert.equal(run({ type: 'track' }, { library: { name: 'analytics-node' } }), undefined);
    const client = { type: 'dataxu', name: 'DataXu', id: '3kq2' };
    assert.equal(run({ type: 'page' }, { referrer: client, page: { url: 'https://e.com/', referrer: 'https://t.co/' } }), client);
  });
});
