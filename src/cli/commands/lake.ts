import { statSync } from 'node:fs';
import { Command } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { WeirError } from '../../errors/catalogue.js';
import { importFormat, loadUpload, replayFromLake, storeUpload, type Progress } from '../../lake/lake-tasks.js';
import { lakeCacheDir, openLake } from '../../lake/open-lake.js';
import { openState, openWarehouse } from '../../server/backends.js';
import type { SinksTask } from '../../server/sinks-worker.js';
import type { TaskStatus } from '../../server/task-board.js';
import type { Source } from '../../state/state-store.js';
import { SourceSchemas } from '../../warehouse/source-schemas.js';
import type { Warehouse } from '../../warehouse/warehouse.js';
import { callLocalServer, localServerError, serverAnswers } from '../local-server.js';
import { progressPrinter } from '../progress.js';

/** Draws a {@link Progress} stream as one bar, restarting it when the unit changes. */
function progressBar(): (p: Progress, final?: boolean) => void {
  let unit = '';
  let show: ReturnType<typeof progressPrinter> | undefined;
  return (p, final) => {
    if (p.unit !== unit || !show) {
      unit = p.unit;
      show = progressPrinter(p.total, p.unit);
    }
    show(p.done, final);
  };
}

const FALLBACK = 'WEIR_SERVER_INTERNAL_ERROR';

/**
 * Runs a long warehouse-writing operation: through a running `weir up` (whose sinks process
 * holds the warehouse), following its progress, or here when no server runs.
 */
async function runTask<T>(
  config: WeirConfig,
  task: SinksTask & { source: string },
  local: (ctx: { schema: string; warehouse: Warehouse; progress: (p: Progress) => void }) => Promise<T>,
): Promise<T> {
  const bar = progressBar();
  if (await serverAnswers(config)) {
    const { kind, request } = task;
    const { id } = await callLocalServer<{ id: string }>(config, 'POST', '/api/tasks', { kind, source: task.source, ...request }, FALLBACK);
    for (;;) {
      const status = await callLocalServer<TaskStatus>(config, 'GET', `/api/tasks/${id}`, undefined, FALLBACK);
      if (status.progress) bar(status.progress, status.state !== 'running');
      if (status.state === 'done') return status.result as T;
      if (status.state === 'failed') throw localServerError(status.error ?? {}, FALLBACK);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const state = await openState(config);
  const warehouse = await openWarehouse(config);
  if (!warehouse) throw new WeirError('WEIR_WAREHOUSE_UNAVAILABLE', { engine: 'none', detail: 'warehouse.engine is none' });
  try {
    const schema = await new SourceSchemas(state).schemaOf(task.request.sourceId);
    let last: Progress | undefined;
    const result = await local({ schema, warehouse, progress: (p) => bar((last = p)) });
    if (last) bar(last, true);
    return result;
  } finally {
    await warehouse.close();
    await state.close();
  }
}

async function sourceOf(config: WeirConfig, idOrName: string | undefined): Promise<Source> {
  const state = await openState(config);
  try {
    const name = idOrName ?? 'default';
    const source = await state.getSource(name);
    if (!source) throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--source', value: JSON.stringify(name), detail: 'no such source' });
    return source;
  } finally {
    await state.close();
  }
}

function dateOption(option: string): (value: string) => string {
  return (value) => {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) {
      throw new WeirError('WEIR_CLI_INVALID_OPTION', { option, value: JSON.stringify(value), detail: 'a date YYYY-MM-DD' });
    }
    return value;
  };
}

export const sinceOption = dateOption('--since');
export const untilOption = dateOption('--until');

/** `weir replay --from-lake`: reloads the warehouse from a source's lake files since a date. */
export async function replayFromLakeCommand(config: WeirConfig, opts: { source?: string; since?: string; until?: string }): Promise<void> {
  if (opts.since === undefined) throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--since', value: 'missing', detail: '--from-lake needs --since YYYY-MM-DD' });
  const source = await sourceOf(config, opts.source);
  const request = { sourceId: source.id, since: opts.since, until: opts.until };
  const blob = await openLake(config);
  try {
    const r = await runTask(config, { kind: 'lake-replay', request, source: source.id }, ({ schema, warehouse, progress }) =>
      replayFromLake({ ...request, blob, warehouse, schema, cacheDir: lakeCacheDir(config) }, progress),
    );
    process.stderr.write(`reloaded ${r.events.toLocaleString('en')} events from ${r.files} lake files into the warehouse (messageIds already there were skipped)\n`);
  } finally {
    await blob.close();
  }
}

export function register(program: Command, loadConfig: () => WeirConfig): void {
  program
    .command('import')
    .description('store a file in the lake under uploads/ and load it as a warehouse table')
    .argument('<file>', 'a .csv, .tsv, .json, .ndjson or .parquet file')
    .option('--source <id|name>', 'the source whose lake and schema receive it (default: the default source)')
    .requiredOption('--table <name>', 'the warehouse table to load it into')
    .action(async (file: string, opts: { source?: string; table: string }) => {
      importFormat(file);
      let size: number;
      try {
        size = statSync(file).size;
      } catch {
        throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: 'file', value: JSON.stringify(file), detail: 'cannot read the file' });
      }
      const config = loadConfig();
      const source = await sourceOf(config, opts.source);
      const blob = await openLake(config);
      const state = await openState(config);
      try {
        const bar = progressBar();
        const stored = await storeUpload({ blob, state, sourceId: source.id, workspaceId: source.workspaceId, path: file, size }, (p) => bar(p, p.done === p.total));
        process.stderr.write(`stored ${stored.key} (${stored.bytes.toLocaleString('en')} bytes)\n`);
        await state.close();
        const request = { sourceId: source.id, key: stored.key, table: opts.table };
        const r = await runTask(config, { kind: 'import', request, source: source.id }, ({ schema, warehouse, progress }) =>
          loadUpload({ ...request, blob, warehouse, schema, cacheDir: lakeCacheDir(config) }, progress),
        );
        process.stdout.write(`loaded ${r.rows.toLocaleString('en')} rows into ${opts.table} (${r.columns.length} columns)\n`);
      } finally {
        await state.close();
        await blob.close();
      }
    });
}
