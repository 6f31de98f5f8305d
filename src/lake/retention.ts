/**
 * Hot and cold retention, per source: the warehouse keeps `warehouseRetentionDays` of events
 * (hot), the lake keeps `lakeRetentionDays` (cold, often years or forever). The event log itself
 * keeps a segment until every consumer group (the lake writer and the warehouse loader among
 * them) has passed it, so neither retention can lose an event that was not yet written out.
 *
 * @example
 * ```ts
 * const r = await enforceRetention({ state, blob, warehouse, schemaOf, now: new Date() });
 * // { lakeFilesDeleted: 12, warehouseTables: 4 }
 * ```
 */
import type { BlobStore } from '../blob/blob-store.js';
import type { StateStore } from '../state/state-store.js';
import type { Warehouse } from '../warehouse/warehouse.js';

export interface RetentionOptions {
  state: Pick<StateStore, 'listSources' | 'listLakeFiles' | 'deleteLakeFile'>;
  blob?: BlobStore;
  warehouse?: Pick<Warehouse, 'engine' | 'describe' | 'execute'>;
  schemaOf(sourceId: string): Promise<string>;
  now?: Date;
}

export interface RetentionResult {
  lakeFilesDeleted: number;
  lakeBytesDeleted: number;
  /** Event tables a delete ran on. */
  warehouseTables: number;
}

const DAY_MS = 86_400_000;

/** The first date kept when `days` are retained: today counts as one. */
export function retentionCutoff(now: Date, days: number): Date {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(today - (days - 1) * DAY_MS);
}

function q(engine: string, name: string): string {
  return engine === 'clickhouse' ? `\`${name.replace(/[`\\]/g, '\\$&')}\`` : `"${name.replace(/"/g, '""')}"`;
}

/** Deletes what is past each source's retention, in the lake and in the warehouse. */
export async function enforceRetention(opts: RetentionOptions): Promise<RetentionResult> {
  const now = opts.now ?? new Date();
  const result: RetentionResult = { lakeFilesDeleted: 0, lakeBytesDeleted: 0, warehouseTables: 0 };
  for (const source of await opts.state.listSources()) {
    const { lakeRetentionDays, warehouseRetentionDays } = source.settings;
    if (lakeRetentionDays !== null && opts.blob) {
      const before = retentionCutoff(now, lakeRetentionDays).toISOString().slice(0, 10);
      for (const f of await opts.state.listLakeFiles({ sourceId: source.id, kind: 'events', beforeDate: before })) {
        await opts.blob.delete(f.key);
        await opts.state.deleteLakeFile(f.key);
        result.lakeFilesDeleted++;
        result.lakeBytesDeleted += f.bytes;
      }
    }
    if (warehouseRetentionDays !== null && opts.warehouse) {
      const wh = opts.warehouse;
      const schema = await opts.schemaOf(source.id);
      const cutoff = retentionCutoff(now, warehouseRetentionDays);
      for (const [table, columns] of await wh.describe(schema)) {
        // Event tables carry the event time; users and groups are identities, kept as they are.
        if (columns.get('timestamp') !== 'timestamp' || table === 'users' || table === 'groups') continue;
        const target = `${q(wh.engine, schema)}.${q(wh.engine, table)}`;
        const sql =
          wh.engine === 'clickhouse'
            ? `alter table ${target} delete where timestamp < toDateTime(${Math.floor(cutoff.getTime() / 1000)})`
            : `delete from ${target} where "timestamp" < '${cutoff.toISOString()}'`;
        await wh.execute(sql, { schema, timeoutMs: 600_000 });
        result.warehouseTables++;
      }
    }
  }
  return result;
}
