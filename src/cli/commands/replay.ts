import { Command, Option } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { WeirError } from '../../errors/catalogue.js';
import type { EventLog } from '../../log/event-log.js';
import { createLogger } from '../../observability/logger.js';
import { logDir, openLog, openState, openWarehouse } from '../../server/backends.js';
import { runWarehouseLoader, WAREHOUSE_GROUP } from '../../warehouse/loader.js';
import { positionsFrom, positionsSince, replayPending, requestReplay } from '../../warehouse/replay.js';
import { SourceSchemas } from '../../warehouse/source-schemas.js';
import { serverAnswers } from '../local-server.js';
import { progressPrinter } from '../progress.js';
import { replayFromLakeCommand, sinceOption, untilOption } from './lake.js';

/** `earliest`, an offset, or an ISO date-time. */
function parseFrom(value: string): 'earliest' | number | Date {
  if (value === 'earliest') return 'earliest';
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--from', value: JSON.stringify(value), detail: 'earliest, an offset or an ISO-8601 date-time' });
  return new Date(ms);
}

async function committedSum(log: EventLog, start: Map<number, number>): Promise<number> {
  const committed = (await log.groups()).get(WAREHOUSE_GROUP) ?? new Map<number, number>();
  let done = 0;
  for (const [p, from] of start) done += Math.max(0, (committed.get(p) ?? from) - from);
  return done;
}

/**
 * `weir replay --sink warehouse`: loads the log into the warehouse again from a position. Every
 * write is idempotent by messageId, so a replay fills what is missing and doubles nothing. With
 * `weir up` running, its loader takes the request; otherwise this command loads itself.
 *
 * @example
 * ```sh
 * weir replay --sink warehouse --from 2026-11-01T00:00:00Z
 * ```
 */
export function register(program: Command, loadConfig: () => WeirConfig): void {
  program
    .command('replay')
    .description('load the event log into a sink again, without duplicates')
    .addOption(new Option('--sink <sink>', 'the sink to rebuild').choices(['warehouse']).default('warehouse'))
    .option('--from <position>', 'earliest, an offset (per partition), or an ISO-8601 time', 'earliest')
    .option('--from-lake', 'reload the warehouse from the lake instead of the event log')
    .option('--source <id|name>', 'with --from-lake: the source to reload (default: the default source)')
    .option('--since <date>', 'with --from-lake: the first date (YYYY-MM-DD) to reload', sinceOption)
    .option('--until <date>', 'with --from-lake: the last date (YYYY-MM-DD) to reload', untilOption)
    .action(async (opts: { sink: string; from: string; fromLake?: boolean; source?: string; since?: string; until?: string }) => {
      if (opts.fromLake) return replayFromLakeCommand(loadConfig(), opts);
      const from = parseFrom(opts.from);
      const config = loadConfig();
      if (config.warehouse.engine === 'none') {
        throw new WeirError('WEIR_CLI_INVALID_OPTION', { option: '--sink', value: 'warehouse', detail: 'warehouse.engine is none' });
      }
      const log = await openLog(config);
      try {
        const wanted = from instanceof Date ? await positionsSince(log, from) : await positionsFrom(log, from);
        // Never ahead of what the loader has committed: moving it forward would skip events it has
        // not loaded yet.
        const committed = (await log.groups()).get(WAREHOUSE_GROUP) ?? new Map<number, number>();
        const positions = new Map([...wanted].map(([p, o]) => [p, Math.min(o, committed.get(p) ?? 0)] as const));
        let total = 0;
        for (const s of await log.stats()) total += Math.max(0, s.nextOffset - (positions.get(s.partition) ?? s.nextOffset));
        if (total === 0) {
          process.stderr.write('nothing to replay: the warehouse has loaded everything after that position\n');
          return;
        }
        requestReplay(logDir(config, 'events'), WAREHOUSE_GROUP, positions);
        const show = progressPrinter(total);

        if (await serverAnswers(config)) {
          process.stderr.write(`weir up is running: its loader replays ${total.toLocaleString('en')} events\n`);
          // Progress is what the running loader commits, once it has taken the request.
          while (replayPending(logDir(config, 'events'), WAREHOUSE_GROUP)) await new Promise((r) => setTimeout(r, 100));
          for (let done = 0; done < total; ) {
            await new Promise((r) => setTimeout(r, 250));
            done = await committedSum(log, positions);
            show(done);
          }
          show(total, true);
          return;
        }

        const warehouse = await openWarehouse(config);
        const state = await openState(config);
        const stop = new AbortController();
        const schemas = new SourceSchemas(state);
        let loaded = 0;
        let failure: unknown;
        try {
          await runWarehouseLoader({
            log,
            warehouse: warehouse!,
            schemaOf: (id) => schemas.schemaOf(id),
            logger: createLogger('warn'),
            signal: stop.signal,
            logDir: logDir(config, 'events'),
            maxRecords: config.warehouse.batchMaxRecords,
            maxWaitMs: 50,
            onBatch: (s) => {
              loaded += s.events;
              show(Math.min(loaded, total));
              if (s.lag === 0) stop.abort();
            },
            onError: (err) => {
              failure = err;
              stop.abort();
            },
          });
        } finally {
          await warehouse?.close();
          await state.close();
        }
        if (failure) throw failure;
        show(total, true);
      } finally {
        await log.close();
      }
    });
}
