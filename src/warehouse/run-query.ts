import { WeirError } from '../errors/catalogue.js';
import type { StateStore } from '../state/state-store.js';
import type { WeirConfig } from '../config/schema.js';
import type { SourceSchemas } from './source-schemas.js';
import type { QueryResult, Warehouse } from './warehouse.js';

/** A console query, from `POST /api/query` or `weir query`. */
export interface QueryRequest {
  sql: string;
  /** Source id or name whose schema is searched first; default: the default source. */
  source?: string;
  maxRows?: number;
  timeoutMs?: number;
}

export interface QueryResponse extends QueryResult {
  schema: string;
  ms: number;
}

const MAX_SQL_BYTES = 100_000;

/** Checks a request's shape; the message names the field and the value. */
export function parseQueryRequest(body: unknown): QueryRequest {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof b.sql !== 'string' || b.sql.trim() === '') {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'sql must be a non-empty string' });
  }
  if (b.sql.length > MAX_SQL_BYTES) throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `sql is longer than ${MAX_SQL_BYTES} characters` });
  for (const field of ['maxRows', 'timeoutMs'] as const) {
    const v = b[field];
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${field} must be a whole number ≥ 1, got ${JSON.stringify(v)}` });
    }
  }
  if (b.source !== undefined && typeof b.source !== 'string') {
    throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'source must be a source id or name' });
  }
  return { sql: b.sql, source: b.source, maxRows: b.maxRows as number | undefined, timeoutMs: b.timeoutMs as number | undefined };
}

/**
 * Runs a console query on the source's schema, within the configured limits (a caller may ask
 * for less, never more).
 *
 * @example
 * ```ts
 * await runQuery({ warehouse, schemas, state, config }, { sql: 'select count(*) from tracks' });
 * ```
 */
export async function runQuery(
  ctx: { warehouse: Warehouse | undefined; schemas: SourceSchemas; state: Pick<StateStore, 'getSource'>; config: WeirConfig },
  req: QueryRequest,
): Promise<QueryResponse> {
  if (!ctx.warehouse) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'no warehouse is configured (warehouse.engine = none)' });
  const sourceName = req.source ?? 'default';
  const source = await ctx.state.getSource(sourceName);
  if (!source) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: sourceName });
  const schema = await ctx.schemas.schemaOf(source.id);
  const limits = ctx.config.warehouse;
  const started = performance.now();
  const result = await ctx.warehouse.query(req.sql, {
    schema,
    maxRows: Math.min(req.maxRows ?? limits.queryMaxRows, limits.queryMaxRows),
    timeoutMs: Math.min(req.timeoutMs ?? limits.queryTimeoutMs, limits.queryTimeoutMs),
  });
  return { ...result, schema, ms: Math.round(performance.now() - started) };
}
