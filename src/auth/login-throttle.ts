/**
 * Slows password guessing: after `maxFailures` failed sign-ins for one email from one client
 * address within `windowMs`, further attempts answer 429 with Retry-After until the window ends.
 * Counts live in the metadata store, so every collector process behind the port shares them.
 *
 * @example
 * ```ts
 * const throttle = new LoginThrottle(state);
 * const key = LoginThrottle.key(email, req.ip);
 * await throttle.check(key);             // throws WEIR_AUTH_TOO_MANY_ATTEMPTS when blocked
 * if (!ok) await throttle.failed(key); else await throttle.succeeded(key);
 * ```
 */
import { WeirError } from '../errors/catalogue.js';
import type { StateStore } from '../state/state-store.js';

export interface LoginThrottleOptions {
  maxFailures: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = { maxFailures: 5, windowMs: 15 * 60_000 };

export class LoginThrottle {
  readonly #state: StateStore;
  readonly #options: LoginThrottleOptions;

  constructor(state: StateStore, options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE) {
    this.#state = state;
    this.#options = options;
  }

  /** The throttle key of an email (any case) and a client address. */
  static key(email: string, ip: string): string {
    return `${email.trim().toLowerCase()}|${ip}`;
  }

  /** Throws 429 while the key has used up its failures. */
  async check(key: string, now = new Date()): Promise<void> {
    const f = await this.#state.loginFailures(key, now, this.#options.windowMs);
    if (f !== undefined && f.failures >= this.#options.maxFailures) throw this.#blocked(f.windowStart, now);
  }

  /** Counts a failure; throws 429 when it was the last one allowed, so the caller answers that. */
  async failed(key: string, now = new Date()): Promise<void> {
    const f = await this.#state.addLoginFailure(key, now, this.#options.windowMs);
    if (f.failures > this.#options.maxFailures) throw this.#blocked(f.windowStart, now);
  }

  async succeeded(key: string): Promise<void> {
    await this.#state.clearLoginFailures(key);
  }

  #blocked(windowStart: Date, now: Date): WeirError {
    const retryAfter = Math.max(1, Math.ceil((windowStart.getTime() + this.#options.windowMs - now.getTime()) / 1000));
    return new WeirError('WEIR_AUTH_TOO_MANY_ATTEMPTS', { retryAfter });
  }
}
