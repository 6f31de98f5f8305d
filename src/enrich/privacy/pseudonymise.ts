import { createHmac } from 'node:crypto';
import { WeirError } from '../../errors/catalogue.js';
import { copyFields, isPlainObject, type Fields } from '../fields.js';
import { LruCache } from '../lru.js';

const PSEUDONYM = /^ps_[0-9a-f]{32}$/;
/** Shortest salt accepted: 128 bits, as for any HMAC key that must not be guessed. */
export const MIN_SALT_BYTES = 16;

/**
 * The pseudonym of one value: `ps_` and the first 32 hex digits (128 bits) of
 * HMAC-SHA256(salt, value). Strings are hashed as they are, anything else as its JSON, so the
 * user id 42 and "42" get the same pseudonym (the collector already turns numeric ids into
 * strings).
 *
 * @example
 * ```ts
 * pseudonym('ada@example.com', salt); // 'ps_' + 32 hex digits, the same for every event
 * ```
 */
export function pseudonym(value: unknown, salt: Buffer): string {
  return pseudonymOfText(typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null'), salt);
}

function pseudonymOfText(text: string, salt: Buffer): string {
  return `ps_${createHmac('sha256', salt).update(text).digest('hex').slice(0, 32)}`;
}

/** Replaces fields of an event by their pseudonyms. */
export type Pseudonymiser = (event: Fields) => void;

/**
 * Builds the step that replaces the listed fields (`userId`, `traits.email`,
 * `context.traits.email`, `properties.email`, any dotted path through objects) by keyed hashes, so
 * the warehouse can still join on them but cannot show them. Deterministic for one salt; without
 * the salt a pseudonym cannot be reversed by hashing guesses.
 *
 * Values that already are pseudonyms are kept, so enriching an event twice (a replay) does not
 * hash twice. Nested objects on a path are copied, never written: they may be the client's
 * objects, shared by the events of one batch. Arrays on a path are not walked.
 * HMACs are cached per value (about 1.5 µs each): a user sends many events.
 *
 * @example
 * ```ts
 * const hide = createPseudonymiser({ paths: ['userId', 'traits.email'], salt });
 * const event = { type: 'identify', userId: 'u-1', traits: { email: 'ada@example.com', plan: 'pro' } };
 * hide(event); // event.userId and event.traits.email are now 'ps_…'; plan is kept
 * ```
 */
export function createPseudonymiser(opts: { paths: readonly string[]; salt: Buffer; cacheSize?: number }): Pseudonymiser {
  if (opts.salt.length < MIN_SALT_BYTES) {
    throw new WeirError('WEIR_CONFIG_INVALID', {
      detail: `pseudonymisation needs a secret salt of at least ${MIN_SALT_BYTES} bytes, got ${opts.salt.length}`,
    });
  }
  const paths = opts.paths.map((p) => {
    const segments = p.split('.');
    if (segments.some((s) => s === '' || s === '__proto__')) {
      throw new WeirError('WEIR_CONFIG_INVALID', { detail: `pseudonymise path "${p}" is not a dotted field path` });
    }
    return segments;
  });
  const salt = Buffer.from(opts.salt);
  const cache = new LruCache<string>({ capacity: opts.cacheSize ?? 8192, maxKeyLength: 256 });
  const hashText = (text: string) => pseudonymOfText(text, salt);

  const hide = (value: unknown): unknown => {
    if (value === undefined || value === null) return value;
    if (typeof value === 'string') return PSEUDONYM.test(value) ? value : cache.get(value, hashText);
    return cache.get(JSON.stringify(value), hashText);
  };

  const withKey = (obj: Fields, key: string, value: unknown): Fields => {
    const copy = copyFields(obj);
    copy[key] = value;
    return copy;
  };
  const replace = (obj: Fields, segments: readonly string[], depth: number): Fields | undefined => {
    const key = segments[depth]!;
    const v = obj[key];
    if (depth === segments.length - 1) {
      const hidden = hide(v);
      return hidden === v ? undefined : withKey(obj, key, hidden);
    }
    if (!isPlainObject(v)) return undefined;
    const inner = replace(v, segments, depth + 1);
    return inner === undefined ? undefined : withKey(obj, key, inner);
  };

  return (event) => {
    for (const segments of paths) {
      const key = segments[0]!;
      if (segments.length === 1) {
        const v = event[key];
        const hidden = hide(v);
        if (hidden !== v) event[key] = hidden;
        continue;
      }
      const child = event[key];
      if (!isPlainObject(child)) continue;
      const replaced = replace(child, segments, 1);
      if (replaced !== undefined) event[key] = replaced;
    }
  };
}
