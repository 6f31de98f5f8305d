import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { WeirConfig } from '../config/schema.js';
import type { EventLog } from '../log/event-log.js';
import { nodeFileLayer, type FileLayer } from '../log/file-layer.js';
import { openFileEventLog } from '../log/file/index.js';
import type { Logger } from '../observability/logger.js';
import type { StateStore } from '../state/state-store.js';
import { openSqliteStateStore } from '../state/sqlite/index.js';

/**
 * Opens the backends a configuration names. This is the one place that picks adapters, so adding
 * one (NATS, Postgres) is a change here and in the schema.
 *
 * @example
 * ```ts
 * const state = await openState(config);
 * const log = await openLog(config, { logger });
 * ```
 */
export async function openState(config: WeirConfig): Promise<StateStore> {
  mkdirSync(config.dataDir, { recursive: true });
  return openSqliteStateStore({ file: join(config.dataDir, 'weir.sqlite') });
}

export async function openLog(
  config: WeirConfig,
  opts: { logger?: Logger; fileLayer?: FileLayer; onCorrupt?: (info: unknown) => void } = {},
): Promise<EventLog> {
  const dir = join(config.dataDir, 'log');
  mkdirSync(dir, { recursive: true });
  return openFileEventLog({
    dir,
    fileLayer: opts.fileLayer ?? nodeFileLayer,
    segmentBytes: config.log.segmentBytes,
    logger: opts.logger,
    onCorrupt: opts.onCorrupt,
  });
}
