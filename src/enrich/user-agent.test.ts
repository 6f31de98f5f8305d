import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { enrichUserAgent, parseUserAgent } from './user-agent.js';
import { UA } from '../../test/helpers/user-agents.js';

type Expected = [ua: keyof typeof UA, browser: [string, string?] | null, os: [string, string?] | null, device: string];

const CASES: Expected[] = [
  ['chromeWindows', ['Chrome', '131.0.0.0'], ['Windows', '10'], 'desktop'],
  ['chromeMac', ['Chrome', '131.0.0.0'], ['Mac OS', '10.15.7'], 'desktop'],
  ['firefoxWindows', ['Firefox', '133.0'], ['Windows', '10'], 'desktop'],
  ['firefoxLinux', ['Firefox', '133.0'], ['Linux'], 'desktop'],
  ['safariMac', ['Safari', '18.1'], ['Mac OS', '10.15.7'], 'desktop'],
  ['edgeWindows', ['Edge', '131.0.0.0'], ['Windows', '10'], 'desktop'],
  ['iphoneSafari', ['Mobile Safari', '18.1'], ['iOS', '18.1'], 'mobile'],
  ['iphoneChrome', ['Chrome', '131.0.6778.73'], ['iOS', '17.7'], 'mobile'],
  ['androidChrome', ['Chrome', '131.0.0.0'], ['Android', '10'], 'mobile'],
  ['ipadSafari', ['Mobile Safari', '17.7'], ['iOS', '17.7'], 'tablet'],
  ['samsungInternet', ['Samsung Internet', '26.0'], ['Android', '14'], 'mobile'],
  ['facebookInApp', ['Facebook', '451.0.0.45.109'], ['Android', '14'], 'mobile'],
  ['samsungTv', ['Safari'], ['Tizen', '6.0'], 'tv'],
  ['playStation5', ['WebKit', '605.1.15'], ['PlayStation', '5'], 'console'],
  ['androidApp', null, ['Android', '13'], 'mobile'],
  ['googlebot', null, null, 'bot'],
  ['googlebotSmartphone', ['Chrome', '131.0.6778.69'], ['Android', '6.0.1'], 'bot'],
  ['bingbot', ['Chrome', '116.0.1938.76'], null, 'bot'],
  ['gptbot', ['WebKit', '537.36'], null, 'bot'],
  ['facebookexternalhit', null, null, 'bot'],
  ['curl', null, null, 'bot'],
  ['headlessChrome', ['Chrome Headless', '131.0.6778.33'], ['Linux'], 'bot'],
];

function nv(pair: [string, string?] | null): { name: string; version?: string } | undefined {
  if (pair === null) return undefined;
  return pair[1] === undefined ? { name: pair[0] } : { name: pair[0], version: pair[1] };
}

describe('user agent', () => {
  it('parses real user agents into Segment-style browser, os and device type', () => {
    for (const [name, browser, os, device] of CASES) {
      const context: Record<string, unknown> = { userAgent: UA[name] };
      enrichUserAgent(context);
      const expected: Record<string, unknown> = { userAgent: UA[name], device: { type: device } };
      if (browser) expected.browser = nv(browser);
      if (os) expected.os = nv(os);
      assert.deepEqual(context, expected, name);
    }
  });

  it('fills only what the client did not send', () => {
    // A mobile SDK's own device and os: its type 'ios' and its os version stay.
    const context: Record<string, unknown> = {
      userAgent: UA.iphoneSafari,
      device: { type: 'ios', model: 'iPhone15,2', manufacturer: 'Apple' },
      os: { name: 'iOS', version: '18.1.1' },
      browser: { name: 'Safari' },
    };
    const clientBrowser = context.browser;
    enrichUserAgent(context);
    assert.deepEqual(context.device, { type: 'ios', model: 'iPhone15,2', manufacturer: 'Apple' });
    assert.deepEqual(context.os, { name: 'iOS', version: '18.1.1' });
    assert.deepEqual(context.browser, { name: 'Safari', version: '18.1' });
    assert.deepEqual(clientBrowser, { name: 'Safari' }, "the client's object is copied, not written");

    const odd: Record<string, unknown> = { userAgent: UA.chromeWindows, device: 'laptop', os: null };
    enrichUserAgent(odd);
    assert.equal(odd.device, 'laptop', 'a non-object client value is left alone');
    assert.deepEqual(odd.os, { name: 'Windows', version: '10' });
  });

  it('does nothing without a user agent, or for one it cannot read', () => {
    for (const userAgent of [undefined, '', 42]) {
      const context: Record<string, unknown> = { userAgent };
      enrichUserAgent(context);
      assert.deepEqual(context, { userAgent });
    }
    // ua-parser gives no device type for desktops, nor for agents it does not know.
    const unknown: Record<string, unknown> = { userAgent: 'Mozilla/5.0 (Unknown; Nothing) Gizmo/3' };
    enrichUserAgent(unknown);
    assert.deepEqual(unknown, { userAgent: 'Mozilla/5.0 (Unknown; Nothing) Gizmo/3', device: { type: 'desktop' } });
    // A bare product token is a tool, not a browser (isbot's rule).
    const tool: Record<string, unknown> = { userAgent: 'MyApp' };
    enrichUserAgent(tool);
    assert.deepEqual(tool, { userAgent: 'MyApp', device: { type: 'bot' } });
  });

  it('answers repeated user agents from the cache with the same frozen result', () => {
    const first = parseUserAgent(`${UA.firefoxLinux}`);
    const again = parseUserAgent(UA.firefoxLinux.slice(0, 40) + UA.firefoxLinux.slice(40));
    assert.equal(first, again);
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.browser));
  });

  it('reads only the first 500 characters, as ua-parser does', () => {
    const long = `${UA.chromeWindows} ${'x'.repeat(2000)}`;
    assert.deepEqual(parseUserAgent(long), parseUserAgent(`${UA.chromeWindows} ${'x'.repeat(600)}`));
    assert.equal(parseUserAgent(long).browser?.name, 'Chrome');
  });
});
