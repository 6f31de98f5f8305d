import type { WeirConfig } from '../config/schema.js';
import { ERRORS, WeirError, type ErrorCode } from '../errors/catalogue.js';
import { readCliToken } from '../server/cli-token.js';

/** Where a `weir up` of this configuration listens, as seen from the same machine. */
export function localServerUrl(config: WeirConfig): string {
  const host = config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host;
  return `http://${host}:${config.server.port}`;
}

/** True when a server of this configuration answers `/healthz` within a second. */
export async function serverAnswers(config: WeirConfig): Promise<boolean> {
  try {
    return (await fetch(`${localServerUrl(config)}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/**
 * POSTs to the management API of a running `weir up` on this machine, with the token it left in
 * the data directory (see `cli-token.ts`). A refusal becomes a {@link WeirError} with the server's
 * code and message; `fallback` is the code when the answer carries none.
 *
 * @example
 * ```ts
 * const result = await postToLocalServer<QueryResponse>(config, '/api/query', { sql }, 'WEIR_QUERY_FAILED');
 * ```
 */
export async function postToLocalServer<T>(config: WeirConfig, path: string, body: unknown, fallback: ErrorCode): Promise<T> {
  const token = readCliToken(config);
  // `weir up` writes the token on every start; without it this data directory has no server.
  if (!token) throw new WeirError('WEIR_AUTH_MISSING_TOKEN');
  const res = await fetch(`${localServerUrl(config)}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as T & { code?: string; message?: string };
  if (!res.ok) {
    // Keep the server's code and its already rendered message.
    const code = answer.code !== undefined && answer.code in ERRORS ? (answer.code as ErrorCode) : fallback;
    const err = new WeirError(code, { detail: `HTTP ${res.status}` });
    if (answer.message) err.message = answer.message;
    throw err;
  }
  return answer;
}
