import type { Command } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { verifyLog } from '../../log/file/verify.js';
import { logDir, type LogStream } from '../../server/backends.js';

/**
 * `weir log verify`: checks every frame of every segment (CRC, offsets contiguous) and exits 1
 * when anything is corrupt or missing.
 *
 * @example
 * ```sh
 * weir log verify --json
 * ```
 */
export function register(program: Command, loadConfig: () => WeirConfig): void {
  const log = program.command('log').description('inspect the event log');
  log
    .command('verify')
    .description('check every record of the event log')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = loadConfig();
      const streams: LogStream[] = ['events', 'failed'];
      const reports = await Promise.all(streams.map((s) => verifyLog(logDir(config, s))));
      const ok = reports.every((r) => r.ok);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok, events: reports[0], failed: reports[1] })}\n`);
      } else {
        reports.forEach((report, i) => {
          for (const p of report.partitions) {
            process.stdout.write(
              `${streams[i]} partition ${p.partition}: ${p.records} records, offsets ${p.firstOffset}..${p.nextOffset - 1}` +
                `${p.corrupt.length ? `, ${p.corrupt.length} corrupt regions` : ''}${p.gaps.length ? `, ${p.gaps.length} gaps` : ''}\n`,
            );
          }
        });
        process.stdout.write(ok ? 'log ok\n' : 'log has problems\n');
      }
      if (!ok) process.exitCode = 1;
    });
}
