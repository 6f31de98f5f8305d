/**
 * Web UI sessions: the secrets a session is made of, and the cookie that carries its id. The
 * browser holds the session id; the metadata store holds only its sha256, so a leaked database
 * copy cannot be replayed as a cookie.
 *
 * @example
 * ```ts
 * const s = newSessionSecrets();
 * await state.createSession({ idHash: s.idHash, userId, csrfToken: s.csrfToken, createdAt: now, expiresAt });
 * reply.header('set-cookie', sessionCookie(s.id, ttlMs, req.protocol === 'https'));
 * ```
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hashToken } from '../state/ids.js';

/** The cookie's name. */
export const SESSION_COOKIE = 'weir_session';

export interface SessionSecrets {
  /** 256 random bits, base64url; only ever sent in the cookie. */
  id: string;
  /** What the store keeps. */
  idHash: string;
  /** 256 random bits the UI echoes in `x-weir-csrf`. */
  csrfToken: string;
}

export function newSessionSecrets(): SessionSecrets {
  const id = randomBytes(32).toString('base64url');
  return { id, idHash: sessionIdHash(id), csrfToken: randomBytes(32).toString('base64url') };
}

/** sha256 hex of a session id: the store's key. */
export function sessionIdHash(id: string): string {
  return hashToken(id);
}

/**
 * `Set-Cookie` for a session: httpOnly (no script reads it), SameSite=Strict (no other site's
 * page sends it), for the whole host, Secure when the request came over https.
 */
export function sessionCookie(id: string, maxAgeMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure ? '; Secure' : ''}`;
}

/** `Set-Cookie` that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', 0, secure);
}

/**
 * One cookie's value from a `Cookie` header (RFC 6265 §5.4: `name=value` pairs separated by `;`).
 * Session ids are base64url, so no value decoding is needed.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Compares two secrets in time independent of where they differ (and of their lengths). */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
