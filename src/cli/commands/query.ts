import { Command, Option } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { WeirError } from '../../errors/catalogue.js';
import { openState, openWarehouse } from '../../server/backends.js';
import { readCliToken } from '../../server/cli-token.js';
import { postToLocalServer } from '../local-server.js';
import { SourceSchemas } from '../../warehouse/source-schemas.js';
import { runQuery, type QueryRequest, type QueryResponse } from '../../warehouse/run-query.js';
import { csvField, formatTable, positiveInt, printable } from '../context.js';
import { queryLake } from '../../lake/lake-reader.js';
import { lakeCacheDir, openLake } from '../../lake/open-lake.js';
import { sinceOption, untilOption } from './lake.js';

function render(result: QueryResponse, format: string): string[] {
  const names = result.columns.map((c) => c.name);
  if (format === 'json') {
    return result.rows.map((row) => JSON.stringify(Object.fromEntries(names.map((n, i) => [n, row[i] ?? null]))));
  }
  if (format === 'csv') return [names.map(csvField).join(','), ...result.rows.map((row) => row.map(csvField).join(','))];
  const cells = result.rows.map((row) => row.map((v) => (v === null || v === undefined ? 'NULL' : printable(typeof v === 'object' ? JSON.stringify(v) : String(v)))));
  return [
    ...formatTable(names, cells),
    `(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}${result.truncated ? ', truncated' : ''}, ${result.ms} ms, schema ${result.schema})`,
  ];
}

/** SQL over the lake of a source, read here (a remote lake through the local partition cache). */
async function viaLake(config: WeirConfig, sql: string, opts: { source?: string; maxRows?: number; timeout?: number; since?: string; until?: string }): Promise<QueryResponse> {
  const state = await openState(config);
  const name = opts.source ?? 'default';
  const source = await state.getSource(name).finally(() => state.close());
  if (!source) throw new WeirError('WEIR_SOURCE_NOT_FOUND', { source: name });
  const blob = await openLake(config);
  const started = performance.now();
  try {
    const r = await queryLake({
      blob,
      sourceId: source.id,
      sql,
      since: opts.since,
      until: opts.until,
      cacheDir: lakeCacheDir(config),
      maxRows: opts.maxRows ?? config.warehouse.queryMaxRows,
      timeoutMs: opts.timeout ?? config.warehouse.queryTimeoutMs,
    });
    return { ...r, schema: `lake of ${source.name} (${r.files} files)`, ms: Math.round(performance.now() - started) };
  } finally {
    await blob.close();
  }
}

/**
 * Asks a running `weir up` on this machine, with the token it left in the data directory: needed
 * for DuckDB, whose file only one process may open.
 */
async function viaServer(config: WeirConfig, req: QueryRequest): Promise<QueryResponse> {
  if (!readCliToken(config)) {
    throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: config.warehouse.engine, detail: 'the warehouse is in use and no local server token was found' });
  }
  return postToLocalServer<QueryResponse>(config, '/api/query', req, 'WEIR_QUERY_FAILED');
}

/**
 * `weir query "<SQL>"`: read-only SQL on a source's schema, printed as a table, CSV or JSON lines.
 *
 * @example
 * ```sh
 * weir query "select event, count(*) from tracks group by 1 order by 2 desc" --format csv
 * ```
 */
export function register(program: Command, loadConfig: () => WeirConfig): void {
  program
    .command('query')
    .description('run read-only SQL on a source\'s warehouse schema')
    .argument('<sql>', 'the query; unqualified tables are the source\'s (tracks, pages, users, …)')
    .option('--source <id|name>', 'source whose schema is searched first (default: the default source)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .option('--max-rows <n>', 'at most this many rows', positiveInt('--max-rows'))
    .option('--timeout <ms>', 'stop the query after this long', positiveInt('--timeout'))
    .option('--lake', 'query the source\'s lake instead: the view `events` over its Parquet files')
    .option('--since <date>', 'with --lake: only files from this date (YYYY-MM-DD)', sinceOption)
    .option('--until <date>', 'with --lake: only files up to this date (YYYY-MM-DD)', untilOption)
    .action(async (sql: string, opts: { source?: string; format: string; maxRows?: number; timeout?: number; lake?: boolean; since?: string; until?: string }) => {
      const config = loadConfig();
      const print = (result: QueryResponse) => {
        process.stdout.write(`${render(result, opts.format).join('\n')}\n`);
        // CSV and JSON lines carry no footer: a cut-off export must not pass for a whole one.
        if (result.truncated && opts.format !== 'table') {
          process.stderr.write(
            `weir: the result was truncated at ${result.rows.length} rows (--max-rows, capped by warehouse.queryMaxRows where the query runs)\n`,
          );
        }
      };
      if (opts.lake) {
        print(await viaLake(config, sql, opts));
        return;
      }
      const req: QueryRequest = { sql, source: opts.source, maxRows: opts.maxRows, timeoutMs: opts.timeout };
      let result: QueryResponse;
      let warehouse;
      try {
        warehouse = await openWarehouse(config);
      } catch (err) {
        // A running server holds the DuckDB file: ask it instead.
        if (!(err instanceof WeirError && err.code === 'WEIR_WAREHOUSE_UNAVAILABLE' && config.warehouse.engine === 'duckdb')) throw err;
      }
      if (warehouse === undefined && config.warehouse.engine === 'duckdb') {
        result = await viaServer(config, req);
      } else {
        const state = await openState(config);
        try {
          result = await runQuery({ warehouse, schemas: new SourceSchemas(state), state, config }, req);
        } finally {
          await warehouse?.close();
          await state.close();
        }
      }
      print(result);
    });
}
