import assert from 'node:assert/strict';
import type { EventLog } from '../../src/log/event-log.js';
import { createLogger } from '../../src/observability/logger.js';
import { runWarehouseLoader } from '../../src/warehouse/loader.js';
import type { Warehouse } from '../../src/warehouse/warehouse.js';

/** Runs the warehouse loader until it has caught up with the log, then stops it; fails on any load error. */
export async function loadUntilCaughtUp(log: EventLog, warehouse: Warehouse, schemaOf: (sourceId: string) => Promise<string>): Promise<void> {
  const stop = new AbortController();
  const errors: unknown[] = [];
  const done = runWarehouseLoader({
    log,
    warehouse,
    schemaOf,
    logger: createLogger('silent'),
    signal: stop.signal,
    maxWaitMs: 50,
    onBatch: (s) => s.lag === 0 && stop.abort(),
    onError: (err) => {
      errors.push(err);
      stop.abort();
    },
  });
  const timer = setTimeout(() => stop.abort(), 20_000);
  await done;
  clearTimeout(timer);
  assert.deepEqual(errors, []);
}
