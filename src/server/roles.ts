/**
 * Process roles. `weir up` runs every role in one supervisor; at scale the same binary runs one
 * role per process (`weir collector`, `weir worker --roles …`, `weir ui`), each stateless over the
 * shared engines (NATS JetStream for the log, Postgres for metadata, ClickHouse or Postgres for
 * the warehouse, Redis for live state).
 */
import { WeirError } from '../errors/catalogue.js';

/** What `weir worker` can run: one consumer of the log each (pipelines: the task runner). */
export const WORKER_ROLES = ['loader', 'lake', 'realtime', 'pipelines', 'failed', 'usage'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

/** The HTTP surface a process serves: everything (`weir up`), ingest only, or the UI and API. */
export type Surface = 'all' | 'ingest' | 'ui';

/**
 * Parses `--roles loader,lake`; an unknown or empty list is a usage error naming the value.
 *
 * @example
 * ```ts
 * parseWorkerRoles('loader,realtime'); // Set { 'loader', 'realtime' }
 * ```
 */
export function parseWorkerRoles(value: string): ReadonlySet<WorkerRole> {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(WORKER_ROLES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0) {
    throw new WeirError('WEIR_CLI_INVALID_OPTION', {
      option: '--roles',
      value: JSON.stringify(value),
      detail: `${unknown.length > 0 ? `unknown ${unknown.join(', ')}; ` : ''}a comma-separated list of ${WORKER_ROLES.join(', ')}`,
    });
  }
  return new Set(names as WorkerRole[]);
}
