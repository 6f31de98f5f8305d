import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectBot, detectBotInContext, flagBot } from './bot.js';
import { BROWSER_UAS, UA } from '../../test/helpers/user-agents.js';

describe('bot detection', () => {
  it('names crawlers, tools and headless browsers by their product token', () => {
    const expected: Array<[keyof typeof UA, string]> = [
      ['googlebot', 'Googlebot'],
      ['googlebotSmartphone', 'Googlebot'],
      ['bingbot', 'bingbot'],
      ['gptbot', 'GPTBot'],
      ['facebookexternalhit', 'facebookexternalhit'],
      ['curl', 'curl'],
      ['headlessChrome', 'HeadlessChrome'],
      ['pythonRequests', 'python-requests'],
    ];
    for (const [name, bot] of expected) assert.deepEqual(detectBot(UA[name]), { bot: true, name: bot }, name);
    assert.deepEqual(detectBot('Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1'), {
      bot: true,
      name: 'PhantomJS',
    });
  });

  it('passes real browsers, in-app browsers, TVs, consoles and app HTTP stacks', () => {
    for (const name of BROWSER_UAS) assert.deepEqual(detectBot(UA[name]), { bot: false }, name);
  });

  it('a match on punctuation names no bot', () => {
    assert.deepEqual(detectBot('Mozilla/5.0 (X11; Linux x86_64) | Firefox/133.0'), { bot: true });
  });

  it('an empty user agent is a bot; no user agent at all (server-side libraries) is not', () => {
    assert.deepEqual(detectBot(''), { bot: true });
    assert.deepEqual(detectBot('   '), { bot: true });
    assert.deepEqual(detectBotInContext({ userAgent: '' }), { bot: true });
    assert.deepEqual(detectBotInContext({ library: { name: 'analytics-node' } }), { bot: false });
    assert.deepEqual(detectBotInContext(undefined), { bot: false });
    assert.deepEqual(detectBotInContext({ userAgent: 7 }), { bot: false });
  });

  it('flagBot sets context.bot and context.botName, keeping a client-sent name', () => {
    const context: Record<string, unknown> = {};
    flagBot(context, detectBot(UA.gptbot));
    assert.deepEqual(context, { bot: true, botName: 'GPTBot' });
    const own: Record<string, unknown> = { bot: false, botName: 'uptime-checker' };
    flagBot(own, detectBot(UA.curl));
    assert.deepEqual(own, { bot: true, botName: 'uptime-checker' });
    const human: Record<string, unknown> = {};
    flagBot(human, detectBot(UA.safariMac));
    assert.deepEqual(human, {});
    const nameless: Record<string, unknown> = {};
    flagBot(nameless, detectBot(''));
    assert.deepEqual(nameless, { bot: true });
  });
});
