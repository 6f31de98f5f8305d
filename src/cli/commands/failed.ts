import type { Command } from 'commander';
import type { WeirConfig } from '../../config/schema.js';
import { openSourceEnrichers } from '../../collector/source-enrichers.js';
import { currentEnricher, replayFailedEvents, type ReplayFailedOptions, type ReplaySummary } from '../../collector/replay-failed.js';
import { openLog } from '../../server/backends.js';
import type { FailedEvent, FailedEventFilter, StateStore } from '../../state/state-store.js';
import { formatTable, invalidOption, jsonLine, parseDateOption, printable, shorten, withState, type CliContext } from '../context.js';
import { postToLocalServer, serverAnswers } from '../local-server.js';
import { progressPrinter } from '../progress.js';
import { sourceIdOf } from './sources.js';

const MAX_LIMIT = 10_000;
const MESSAGE_WIDTH = 50;
const MESSAGE_ID_WIDTH = 40;
const PAYLOAD_WIDTH = 60;
const REASON = /^[A-Z][A-Z0-9_]*$/;
/** Failed events per request when a running server replays them: each answer is a progress step. */
const SERVER_REPLAY_STEP = 1000;

interface FailedFilterOptions {
  source?: string;
  reason?: string;
  since?: string;
}

interface FailedListOptions extends FailedFilterOptions {
  limit?: string;
  json?: boolean;
}

interface FailedReplayOptions extends FailedFilterOptions {
  dryRun?: boolean;
  again?: boolean;
  json?: boolean;
}

/** Option values that need no database, checked before the store is opened. */
function parseOptions(opts: FailedListOptions): Omit<FailedEventFilter, 'sourceId'> {
  const filter: Omit<FailedEventFilter, 'sourceId'> = {};
  if (opts.limit !== undefined) {
    const n = /^\d+$/.test(opts.limit) ? Number(opts.limit) : NaN;
    if (!(n >= 1 && n <= MAX_LIMIT)) throw invalidOption('--limit', opts.limit, `a whole number from 1 to ${MAX_LIMIT}`);
    filter.limit = n;
  }
  if (opts.since !== undefined) filter.since = parseDateOption('--since', opts.since);
  if (opts.reason !== undefined) {
    // Reason codes are upper case; accept `weir_event_missing_type` typed in a hurry.
    const reason = opts.reason.toUpperCase();
    if (!REASON.test(reason)) throw invalidOption('--reason', opts.reason, 'a reason code such as WEIR_EVENT_MISSING_TYPE');
    filter.reason = reason;
  }
  return filter;
}

function eventJson(e: FailedEvent): Record<string, unknown> {
  return {
    id: e.id,
    receivedAt: e.receivedAt.toISOString(),
    sourceId: e.sourceId,
    reason: e.reason,
    message: e.message,
    messageId: e.messageId,
    payload: e.payload,
    partition: e.partition,
    offset: e.offset,
    replayedAt: e.replayedAt?.toISOString() ?? null,
  };
}

/** Adds the counts of one server answer to the running total. */
function addSummary(total: ReplaySummary, step: ReplaySummary): void {
  total.examined += step.examined;
  total.valid += step.valid;
  for (const [reason, n] of Object.entries(step.stillFailing)) total.stillFailing[reason] = (total.stillFailing[reason] ?? 0) + n;
  total.nextAfterId = step.nextAfterId;
}

/**
 * Replays through a running `weir up`: its collector appends with the partition writer it holds.
 * Asked in steps, so the command can show progress.
 */
async function replayViaServer(config: WeirConfig, options: ReplayFailedOptions, show: (done: number) => void): Promise<ReplaySummary> {
  const total: ReplaySummary = { examined: 0, valid: 0, stillFailing: {}, nextAfterId: null, dryRun: options.dryRun === true };
  let afterId = 0;
  for (;;) {
    const step = await postToLocalServer<ReplaySummary>(
      config,
      '/api/failed-events/replay',
      {
        source: options.sourceId,
        reason: options.reason,
        since: options.since?.toISOString(),
        dryRun: options.dryRun,
        again: options.again,
        afterId,
        limit: SERVER_REPLAY_STEP,
      },
      'WEIR_API_INVALID_REQUEST',
    );
    addSummary(total, step);
    show(total.examined);
    if (step.nextAfterId === null || step.examined < SERVER_REPLAY_STEP) return total;
    afterId = step.nextAfterId;
  }
}

/** Without a server, this command is the writer: partition 0 of the events log is free then. */
async function replayHere(config: WeirConfig, state: StateStore, options: ReplayFailedOptions): Promise<ReplaySummary> {
  const log = await openLog(config);
  try {
    const writer = await log.openWriter(0);
    try {
      const enrichers = await openSourceEnrichers(config);
      return await replayFailedEvents({ state, limits: config.limits, append: (records) => writer.append(records), enricher: currentEnricher(state, enrichers) }, options);
    } finally {
      await writer.close();
    }
  } finally {
    await log.close();
  }
}

function summaryLines(s: ReplaySummary): string[] {
  const failing = Object.entries(s.stillFailing).sort(([a], [b]) => (a < b ? -1 : 1));
  const still = failing.reduce((n, [, c]) => n + c, 0);
  const done = s.dryRun ? 'would be replayed (dry run: nothing was appended)' : 'replayed into the event log';
  const lines = [`examined ${s.examined} failed event${s.examined === 1 ? '' : 's'}: ${s.valid} valid now, ${done}; ${still} still failing`];
  if (failing.length > 0) {
    for (const l of formatTable(['reason', 'still failing'], failing.map(([reason, n]) => [printable(reason), String(n)]))) lines.push(`  ${l}`);
  }
  return lines;
}

/**
 * `weir failed list`: shows events that broke the spec, newest first, with their reason codes.
 * `weir failed replay`: validates them again under the current configuration and ingests those
 * that pass now, through a running `weir up` (whose collectors hold the log's writers) or, when
 * none runs, by appending itself.
 *
 * @example
 * ```sh
 * weir failed list --source web --reason WEIR_EVENT_MISSING_TYPE --since 2024-05-01 --limit 20
 * weir failed list --json | jq -r .payload
 * weir failed replay --reason WEIR_EVENT_BOT --since 2024-05-01 --dry-run
 * ```
 */
export function register(program: Command, ctx: CliContext, loadConfig: () => WeirConfig): void {
  const failed = program.command('failed').description('inspect and replay failed events (events kept with a reason code)');

  failed
    .command('list')
    .description('list failed events, newest first')
    .option('--source <id|name>', 'only this source')
    .option('--reason <CODE>', 'only this reason code, e.g. WEIR_EVENT_MISSING_TYPE')
    .option('--since <ISO date>', 'only events received at or after this time (UTC unless it has an offset)')
    .option('--limit <n>', `at most this many events (default 100, at most ${MAX_LIMIT})`)
    .option('--json', 'print one JSON object per line')
    .action(async (opts: FailedListOptions) => {
      const filter: FailedEventFilter = parseOptions(opts);
      const { events, sourceNames } = await withState(ctx, async (state) => {
        filter.sourceId = await sourceIdOf(state, opts.source);
        const events = await state.listFailedEvents(filter);
        const sourceNames = new Map((await state.listSources()).map((s) => [s.id, s.name]));
        return { events, sourceNames };
      });

      if (opts.json) {
        for (const e of events) ctx.out(jsonLine(eventJson(e)));
        return;
      }
      if (events.length === 0) {
        ctx.out('no failed events');
        return;
      }
      const rows = events.map((e) => [
        e.receivedAt.toISOString(),
        printable(sourceNames.get(e.sourceId) ?? e.sourceId),
        printable(e.reason),
        printable(shorten(e.message, MESSAGE_WIDTH)),
        printable(shorten(e.messageId ?? '-', MESSAGE_ID_WIDTH)),
        printable(shorten(e.payload.replace(/\s+/g, ' '), PAYLOAD_WIDTH)),
        e.replayedAt?.toISOString() ?? '-',
      ]);
      for (const line of formatTable(['time', 'source', 'reason', 'message', 'message id', 'payload', 'replayed'], rows)) ctx.out(line);
    });

  failed
    .command('replay')
    .description('validate failed events again under the current configuration and ingest those that pass now')
    .option('--source <id|name>', 'only this source')
    .option('--reason <CODE>', 'only this reason code, e.g. WEIR_EVENT_BOT')
    .option('--since <ISO date>', 'only events received at or after this time (UTC unless it has an offset)')
    .option('--dry-run', 'only count what would pass now; append nothing')
    .option('--again', 'also replay events that were replayed before')
    .option('--json', 'print the counts as one JSON object')
    .action(async (opts: FailedReplayOptions) => {
      const { reason, since } = parseOptions(opts);
      const config = loadConfig();
      const summary = await withState(ctx, async (state) => {
        const options: ReplayFailedOptions = { sourceId: await sourceIdOf(state, opts.source), reason, since, dryRun: opts.dryRun, again: opts.again };
        const counts = await state.countFailedEvents({ sourceId: options.sourceId, reason, since, replayed: opts.again ? undefined : false });
        const show = progressPrinter([...counts.values()].reduce((a, b) => a + b, 0), 'failed events');
        const result = (await serverAnswers(config))
          ? await replayViaServer(config, options, show)
          : await replayHere(config, state, { ...options, onProgress: (p) => show(p.examined) });
        show(result.examined, true);
        return result;
      });
      if (opts.json) {
        const { nextAfterId: _done, ...counts } = summary;
        ctx.out(jsonLine(counts));
        return;
      }
      for (const line of summaryLines(summary)) ctx.out(line);
    });
}
