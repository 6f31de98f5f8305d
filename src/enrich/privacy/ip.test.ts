import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyIpMode, formatV6, lookupForm, parseIp, truncateIp } from './ip.js';

describe('truncateIp', () => {
  it('cuts IPv4 to /24', () => {
    const cases: Array<[string, string]> = [
      ['203.0.113.77', '203.0.113.0'],
      ['8.8.8.8', '8.8.8.0'],
      ['10.0.0.255', '10.0.0.0'],
      ['0.0.0.0', '0.0.0.0'],
      ['255.255.255.255', '255.255.255.0'],
    ];
    for (const [ip, expected] of cases) assert.equal(truncateIp(ip), expected, ip);
  });

  it('cuts IPv6 to /48, in RFC 5952 form', () => {
    const cases: Array<[string, string]> = [
      ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
      ['2001:0DB8:0000:0000:0000:FF00:0042:8329', '2001:db8::'],
      ['2a02:cf40:1234:5678::1', '2a02:cf40:1234::'],
      ['2001:db8::1', '2001:db8::'],
      ['fe80::1%eth0', 'fe80::'],
      ['::1', '::'],
      ['::', '::'],
      ['64:ff9b::203.0.113.77', '64:ff9b::'],
    ];
    for (const [ip, expected] of cases) assert.equal(truncateIp(ip), expected, ip);
  });

  it('cuts IPv4-mapped IPv6 as the IPv4 address inside, keeping the ::ffff: form', () => {
    for (const ip of ['::ffff:203.0.113.77', '::FFFF:cb00:714d', '0:0:0:0:0:ffff:203.0.113.77']) {
      assert.equal(truncateIp(ip), '::ffff:203.0.113.0', ip);
    }
  });

  it('refuses what is not an address', () => {
    for (const bad of ['192.168.001.010', '010.1.1.1', '::ffff:010.1.1.1', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1.2.3.4:80', '01234.1.1.1', 'abc', '', ' 1.2.3.4', '2001:db8:::1', '1::2::3', '12345::', '::ffff:1.2.3.256', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1::', 'g::1']) {
      assert.equal(truncateIp(bad), null, bad);
      assert.equal(parseIp(bad), null, bad);
    }
  });

  it('agrees with the WHATWG URL serialiser on IPv6 text, and round-trips through parseIp', () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const text = formatV6(groups);
        const viaUrl = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
        assert.equal(text, viaUrl);
        const parsed = parseIp(text);
        assert.deepEqual(parsed, { v: 6, groups });
      }),
      { numRuns: 2000 },
    );
  });

  it('never leaves more than the network for random addresses', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const t = truncateIp(ip);
        assert.equal(t, `${ip.split('.').slice(0, 3).map(Number).join('.')}.0`);
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const t = truncateIp(ip);
        assert.ok(t !== null, ip);
        const parsed = parseIp(t);
        assert.ok(parsed !== null && parsed.v === 6);
        const mapped = parsed.groups.slice(0, 5).every((g) => g === 0) && parsed.groups[5] === 0xffff;
        if (mapped) assert.equal(parsed.groups[7]! & 0xff, 0, ip);
        else assert.deepEqual(parsed.groups.slice(3), [0, 0, 0, 0, 0], ip);
      }),
    );
  });
});

describe('lookupForm', () => {
  it('gives IPv4 for mapped addresses and plain IPv6 without its zone', () => {
    assert.equal(lookupForm('::ffff:81.2.69.160'), '81.2.69.160');
    assert.equal(lookupForm('81.2.69.160'), '81.2.69.160');
    assert.equal(lookupForm('2001:0218:0:0::1%en0'), '2001:218::1');
    assert.equal(lookupForm('nope'), null);
  });
});

describe('applyIpMode', () => {
  it('keeps, truncates or drops context.ip', () => {
    const run = (ip: unknown, mode: 'keep' | 'truncate' | 'drop') => {
      const context: Record<string, unknown> = { ip, locale: 'en-GB' };
      applyIpMode(context, mode);
      return JSON.parse(JSON.stringify(context)) as Record<string, unknown>;
    };
    assert.deepEqual(run('198.51.100.23', 'keep'), { ip: '198.51.100.23', locale: 'en-GB' });
    assert.deepEqual(run('198.51.100.23', 'truncate'), { ip: '198.51.100.0', locale: 'en-GB' });
    assert.deepEqual(run('2001:db8:85a3:8d3::7', 'truncate'), { ip: '2001:db8:85a3::', locale: 'en-GB' });
    assert.deepEqual(run('198.51.100.23', 'drop'), { locale: 'en-GB' });
    // What cannot be truncated is not kept.
    assert.deepEqual(run('unknown', 'truncate'), { locale: 'en-GB' });
    assert.deepEqual(run(12345, 'truncate'), { locale: 'en-GB' });
    const none: Record<string, unknown> = {};
    applyIpMode(none, 'truncate');
    assert.deepEqual(none, {});
  });
});
