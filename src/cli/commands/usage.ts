import { Option, type Command } from 'commander';
import { USAGE_PERIODS, usageReport, type UsagePeriod, type UsageReportRow } from '../../usage/usage-report.js';
import { csvField, formatTable, jsonLine, parseDateOption, printable, withState, type CliContext } from '../context.js';
import { resolveWorkspace, sourceIdOf } from './sources.js';

interface UsageOptions {
  source?: string;
  workspace?: string;
  since?: string;
  until?: string;
  by: UsagePeriod;
  format: 'table' | 'csv' | 'json';
}

const COLUMNS = ['period', 'sourceId', 'source', 'workspaceId', 'accepted', 'failed', 'bytes'] as const;

function render(rows: UsageReportRow[], format: UsageOptions['format']): string[] {
  if (format === 'json') return rows.map((r) => jsonLine(r));
  if (format === 'csv') return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvField(r[c])).join(','))];
  if (rows.length === 0) return ['no usage in this range'];
  const total = { accepted: 0, failed: 0, bytes: 0 };
  for (const r of rows) {
    total.accepted += r.accepted;
    total.failed += r.failed;
    total.bytes += r.bytes;
  }
  const n = (v: number) => v.toLocaleString('en');
  const cells = rows.map((r) => [r.period, printable(r.source), n(r.accepted), n(r.failed), n(r.bytes)]);
  cells.push(['total', '', n(total.accepted), n(total.failed), n(total.bytes)]);
  return formatTable(['period', 'source', 'accepted', 'failed', 'bytes'], cells);
}

/**
 * `weir usage`: accepted events, failed events and stored bytes per source and hour, day or
 * month (UTC), as counted by the usage meter of `weir up`.
 *
 * @example
 * ```sh
 * weir usage --since 2026-11-01 --by day
 * weir usage --source web --by month --format csv
 * ```
 */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('usage')
    .description('accepted events, failed events and bytes per source and period')
    .option('--source <id|name>', 'only this source')
    .option('--workspace <id|name>', 'only this workspace')
    .option('--since <ISO date>', 'hours starting at or after this time (UTC unless it has an offset)')
    .option('--until <ISO date>', 'hours starting before this time')
    .addOption(new Option('--by <period>', 'sum per').choices(USAGE_PERIODS).default('hour'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json']).default('table'))
    .action(async (opts: UsageOptions) => {
      const since = opts.since === undefined ? undefined : parseDateOption('--since', opts.since);
      const until = opts.until === undefined ? undefined : parseDateOption('--until', opts.until);
      const rows = await withState(ctx, async (state) => {
        const sourceId = await sourceIdOf(state, opts.source);
        const workspaceId = opts.workspace === undefined ? undefined : (await resolveWorkspace(state, opts.workspace)).id;
        return usageReport(state, { sourceId, workspaceId, since, until, by: opts.by });
      });
      for (const line of render(rows, opts.format)) ctx.out(line);
    });
}
