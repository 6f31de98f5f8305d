import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * JSON-lines logger (pino) on stderr, so stdout stays free for command output such as
 * `weir tail`.
 *
 * @example
 * ```ts
 * const log = createLogger('info', { role: 'collector' });
 * log.info({ port: 8080 }, 'listening');
 * ```
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings } }, pino.destination({ fd: 2, sync: true }));
}
