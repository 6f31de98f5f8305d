import { join } from 'node:path';
import type { Command } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { verifyLog } from '../../log/file/verify.js';

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
      const report = await verifyLog(join(config.dataDir, 'log'));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        for (const p of report.partitions) {
          process.stdout.write(
            `partition ${p.partition}: ${p.records} records, offsets ${p.firstOffset}..${p.nextOffset - 1}` +
              `${p.corrupt.length ? `, ${p.corrupt.length} corrupt regions` : ''}${p.gaps.length ? `, ${p.gaps.length} gaps` : ''}\n`,
          );
        }
        process.stdout.write(report.ok ? 'log ok\n' : 'log has problems\n');
      }
      if (!report.ok) process.exitCode = 1;
    });
}
