import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { WeirError } from '../../errors/catalogue.js';
import { createPseudonymiser, pseudonym } from './pseudonymise.js';

const SALT = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const expected = (text: string, salt = SALT) => `ps_${createHmac('sha256', salt).update(text).digest('hex').slice(0, 32)}`;

describe('pseudonymise', () => {
  it('is ps_ and the first 32 hex digits of HMAC-SHA256 with the salt: deterministic, salt-dependent', () => {
    assert.equal(pseudonym('ada@example.com', SALT), expected('ada@example.com'));
    assert.match(pseudonym('ada@example.com', SALT), /^ps_[0-9a-f]{32}$/);
    assert.notEqual(pseudonym('ada@example.com', Buffer.alloc(16, 1)), pseudonym('ada@example.com', SALT));
    assert.equal(pseudonym(42, SALT), pseudonym('42', SALT));
    assert.equal(pseudonym({ a: 1 }, SALT), expected('{"a":1}'));
  });

  it('replaces the listed paths, top level and nested, and nothing else', () => {
    const hide = createPseudonymiser({ paths: ['userId', 'traits.email', 'context.traits.email', 'properties.email'], salt: SALT });
    const event: Record<string, unknown> = {
      type: 'identify',
      userId: 'u-1',
      anonymousId: 'anon-1',
      traits: { email: 'ada@example.com', plan: 'pro' },
      context: { traits: { email: 'ada@example.com' }, ip: '1.2.3.4' },
      properties: { email: 'grace@example.com', total: 3 },
    };
    hide(event);
    assert.deepEqual(event, {
      type: 'identify',
      userId: expected('u-1'),
      anonymousId: 'anon-1',
      traits: { email: expected('ada@example.com'), plan: 'pro' },
      context: { traits: { email: expected('ada@example.com') }, ip: '1.2.3.4' },
      properties: { email: expected('grace@example.com'), total: 3 },
    });
  });

  it('hashes non-string values on their JSON, leaves absent and null values alone', () => {
    const hide = createPseudonymiser({ paths: ['userId', 'traits.phone', 'traits.address', 'traits.email', 'properties.email'], salt: SALT });
    const event: Record<string, unknown> = { userId: 42, traits: { phone: 4915112345678, address: { city: 'Berlin' }, email: null } };
    hide(event);
    assert.deepEqual(event, {
      userId: expected('42'),
      traits: { phone: expected('4915112345678'), address: expected('{"city":"Berlin"}'), email: null },
    });
  });

  it('copies nested objects instead of writing them, so a batch-shared object is hashed once per event', () => {
    const hide = createPseudonymiser({ paths: ['context.traits.email'], salt: SALT });
    const shared = { email: 'ada@example.com' };
    const a: Record<string, unknown> = { context: { traits: shared } };
    const b: Record<string, unknown> = { context: { traits: shared } };
    hide(a);
    hide(b);
    assert.deepEqual(shared, { email: 'ada@example.com' });
    assert.deepEqual(a, { context: { traits: { email: expected('ada@example.com') } } });
    assert.deepEqual(b, a);
  });

  it('is idempotent: an event enriched twice keeps its pseudonyms', () => {
    const hide = createPseudonymiser({ paths: ['userId'], salt: SALT });
    const event: Record<string, unknown> = { userId: 'u-1' };
    hide(event);
    hide(event);
    assert.equal(event.userId, expected('u-1'));
  });

  it('does not walk arrays or non-objects on the path', () => {
    const hide = createPseudonymiser({ paths: ['properties.products.email', 'traits.email'], salt: SALT });
    const event: Record<string, unknown> = { properties: { products: [{ email: 'x@example.com' }] }, traits: 'odd' };
    hide(event);
    assert.deepEqual(event, { properties: { products: [{ email: 'x@example.com' }] }, traits: 'odd' });
  });

  it('refuses a short salt and malformed paths', () => {
    const isConfig = (err: unknown) => err instanceof WeirError && err.code === 'WEIR_CONFIG_INVALID';
    assert.throws(() => createPseudonymiser({ paths: ['userId'], salt: Buffer.alloc(8) }), isConfig);
    for (const path of ['', 'traits..email', '.userId', 'traits.__proto__']) {
      assert.throws(() => createPseudonymiser({ paths: [path], salt: SALT }), isConfig, path);
    }
  });
});
