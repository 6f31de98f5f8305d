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
 * A refusal from the server as a {@link WeirError} with the server's code and its already
 * rendered message; `fallback` is the code when the answer carries none.
 */
export function localServerError(answer: { code?: string; message?: string }, fallback: ErrorCode, status?: number): WeirError {
  const code = answer.code !== undefined && answer.code in ERRORS ? (answer.code as ErrorCode) : fallback;
  const err = new WeirError(code, { detail: status === undefined ? 'refused' : `HTTP ${status}` });
  if (answer.message) err.message = answer.message;
  return err;
}

/**
 * Calls the management API of a running `weir up` on this machine, with the token it left in
 * the data directory (see `cli-token.ts`). A refusal becomes {@link localServerError}.
 *
 * @example
 * ```ts
 * const task = await callLocalServer<TaskStatus>(config, 'GET', `/api/tasks/${id}`, undefined, 'WEIR_SERVER_INTERNAL_ERROR');
 * ```
 */
export async function callLocalServer<T>(config: WeirConfig, method: 'GET' | 'POST', path: string, body: unknown, fallback: ErrorCode): Promise<T> {
  const token = readCliToken(config);
  // `weir up` writes the token on every start; without it this data directory has no server.
  if (!token) throw new WeirError('WEIR_AUTH_MISSING_TOKEN');
  const res = await fetch(`${localServerUrl(config)}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await res.json()) as T & { code?: string; message?: string };
  if (!res.ok) throw localServerError(answer, fallback, res.status);
  return answer;
}

/**
 * POSTs to the management API of a running `weir up` on this machine (see {@link callLocalServer}).
 *
 * @example
 * ```ts
 * const result = await postToLocalServer<QueryResponse>(config, '/api/query', { sql }, 'WEIR_QUERY_FAILED');
 * ```
 */
export function postToLocalServer<T>(config: WeirConfig, path: string, body: unknown, fallback: ErrorCode): Promise<T> {
  return callLocalServer<T>(config, 'POST', path, body, fallback);
}
