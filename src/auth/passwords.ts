/**
 * Password hashing for web UI users: scrypt from `node:crypto` with a random salt per user. The
 * cost parameters are stored with each hash, so raising them later leaves old hashes verifiable.
 *
 * @example
 * ```ts
 * const stored = await hashPassword('correct horse battery staple');
 * await verifyPassword('correct horse battery staple', stored); // true
 * await verifyPassword('guess', undefined); // false, after spending as long as a real check
 * ```
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { randomAlphanumeric } from '../state/ids.js';

/** OWASP's scrypt floor (N=2^17, r=8, p=1) costs 128 MiB per check; 2^15 keeps a sign-in near 100 ms on a small box. */
const DEFAULT_PARAMS = { N: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;

/** Shortest password `weir users create --password-stdin` accepts. */
export const MIN_PASSWORD_LENGTH = 12;

function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; the default limit (32 MiB) is exactly what N=2^15, r=8 needs, so leave room.
  const options: ScryptOptions = { ...params, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$N$r$p$salt$hash`, salt and hash in base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = DEFAULT_PARAMS;
  const key = await derive(password, salt, DEFAULT_PARAMS);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

interface Parsed {
  params: { N: number; r: number; p: number };
  salt: Buffer;
  key: Buffer;
}

function parse(stored: string): Parsed | undefined {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || key === undefined) return undefined;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  if (![params.N, params.r, params.p].every((v) => Number.isSafeInteger(v) && v > 0)) return undefined;
  return { params, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

let dummy: Promise<string> | undefined;

/**
 * Whether `password` matches `stored`. With `stored` undefined (no such user) it still derives a
 * key against a dummy hash, so the answer takes as long for an unknown email as for a wrong
 * password: timing does not tell which emails have accounts.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  dummy ??= hashPassword(randomAlphanumeric(24));
  const parsed = parse(stored ?? (await dummy));
  if (parsed === undefined) return false;
  const key = await derive(password, parsed.salt, parsed.params);
  return key.length === parsed.key.length && timingSafeEqual(key, parsed.key) && stored !== undefined;
}

/** A password for `weir users create` without `--password-stdin`: 24 alphanumerics, about 143 bits. */
export function generatePassword(): string {
  return randomAlphanumeric(24);
}
