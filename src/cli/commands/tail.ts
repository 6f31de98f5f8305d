import { Command } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { decodeLogRecord } from '../../events/log-record.js';
import { openLog } from '../../server/backends.js';
import { positiveInt } from '../context.js';

/**
 * `weir tail`: prints events as JSON lines as they become durable. It reads the log directly as
 * an ephemeral consumer, so it works beside a running server, never commits, and never holds
 * back retention.
 *
 * @example
 * ```sh
 * weir tail --from-start --limit 10 | jq .event.event
 * ```
 */
export function register(program: Command, loadConfig: () => WeirConfig): void {
  program
    .command('tail')
    .description('stream events from the log as JSON lines')
    .option('--from-start', 'replay the log from its first retained record')
    .option('--source <id>', 'only events of this source id')
    .option('--failed', 'tail the failed events instead of the accepted ones')
    .option('--limit <n>', 'exit after this many events', positiveInt('--limit'))
    .option('--idle-exit <ms>', 'exit once no event arrived for this long', positiveInt('--idle-exit'))
    .action(async (opts: { fromStart?: boolean; source?: string; failed?: boolean; limit?: number; idleExit?: number }) => {
      const config = loadConfig();
      const log = await openLog(config, { stream: opts.failed ? 'failed' : 'events' });
      const consumer = await log.consumer(`tail-${process.pid}`, {
        start: opts.fromStart ? 'earliest' : 'latest',
        ephemeral: true,
      });
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      process.stdout.on('error', onSignal); // e.g. `| head` closed the pipe
      let printed = 0;
      let lastEventAt = Date.now();
      try {
        while (!stop.signal.aborted) {
          const records = await consumer.poll({ maxRecords: 1000, maxWaitMs: 200, signal: stop.signal });
          if (records.length === 0) {
            if (opts.idleExit !== undefined && Date.now() - lastEventAt >= opts.idleExit) break;
            continue;
          }
          lastEventAt = Date.now();
          const lines: string[] = [];
          for (const r of records) {
            // Records as stored: an event's deferred enrichment shows as its `enrich` list.
            if (opts.source !== undefined && decodeLogRecord(r.value, { enrich: false }).sourceId !== opts.source) continue;
            lines.push(r.value.toString('utf8'));
            if (opts.limit !== undefined && printed + lines.length >= opts.limit) break;
          }
          if (lines.length > 0) {
            printed += lines.length;
            // Waiting on the write callback (not 'drain') is what keeps a slow reader from
            // buffering the whole log in memory, and it fires for pipes, files and TTYs alike.
            await new Promise<void>((r) => process.stdout.write(`${lines.join('\n')}\n`, () => r()));
          }
          if (opts.limit !== undefined && printed >= opts.limit) break;
        }
      } finally {
        await consumer.close();
        await log.close();
      }
    });
}
