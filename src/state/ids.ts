/**
 * Random identifiers and secrets for the metadata store. All draw from `crypto.randomBytes` and
 * use only [A-Za-z0-9], so they survive URLs, shells, HTTP Basic auth and double-click selection.
 *
 * @example
 * ```ts
 * newId('src');        // 'src_4fQ2k9ZbX1mN7pLr'
 * newWriteKey();       // 32 alphanumerics, like a Segment write key
 * const token = newAdminToken(); // 'weir_adm_…'; store hashToken(token), never the token
 * ```
 */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// 248 is the largest multiple of 62 that fits in a byte; bytes at or above it are dropped so
// every character stays equally likely.
const UNBIASED_LIMIT = 248;

// Random bytes are drawn 4 KiB at a time: a pipeline run creates an id per task and per
// attempt, and one system call each cost more than the rest of making the id.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

function randomByte(): number {
  if (poolAt === pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolAt = 0;
  }
  return pool[poolAt++]!;
}

/** `length` characters from [A-Za-z0-9], uniformly random. */
export function randomAlphanumeric(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    if (byte >= UNBIASED_LIMIT) continue;
    out += ALPHABET[byte % ALPHABET.length];
  }
  return out;
}

/** A short id with a type prefix: 16 characters, about 95 bits. */
export function newId(prefix: 'ws' | 'src' | 'adm' | 'run' | 'task' | 'att' | 'chk' | 'usr'): string {
  return `${prefix}_${randomAlphanumeric(16)}`;
}

/** A source write key: 32 characters from [A-Za-z0-9]. */
export function newWriteKey(): string {
  return randomAlphanumeric(32);
}

export const ADMIN_TOKEN_PREFIX = 'weir_adm_';
const ADMIN_TOKEN_SHAPE = /^weir_adm_[A-Za-z0-9]{32}$/;

/** A management API token: `weir_adm_` and 32 characters from [A-Za-z0-9]. */
export function newAdminToken(): string {
  return ADMIN_TOKEN_PREFIX + randomAlphanumeric(32);
}

/** True when `token` has the shape of an admin token (checked before any database work). */
export function looksLikeAdminToken(token: string): boolean {
  return ADMIN_TOKEN_SHAPE.test(token);
}

/**
 * sha256 hex of a token. A fast unsalted hash is enough here because tokens carry about 190
 * random bits: there is no dictionary to try, unlike with passwords.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
