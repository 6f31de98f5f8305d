import type { Command } from 'commander';
import { WeirError } from '../../errors/catalogue.js';
import type { FailedEvent, FailedEventFilter } from '../../state/state-store.js';
import { formatTable, jsonLine, printable, shorten, withState, type CliContext } from '../context.js';

const MAX_LIMIT = 10_000;
const MESSAGE_WIDTH = 50;
const MESSAGE_ID_WIDTH = 40;
const PAYLOAD_WIDTH = 60;
// A date, optionally with a time and a zone. Checked before `new Date()`, which also accepts
// forms like "March 7" whose meaning depends on the engine.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;
const REASON = /^[A-Z][A-Z0-9_]*$/;

interface FailedListOptions {
  source?: string;
  reason?: string;
  since?: string;
  limit?: string;
  json?: boolean;
}

/**
 * JavaScript reads a date-time without a zone as local time but a bare date as UTC; the table
 * prints UTC, so a zone-less time is taken as UTC too.
 */
function asUtc(iso: string): string {
  const t = iso.replace(' ', 'T').toUpperCase();
  return /T[^Z+-]*$/.test(t) ? `${t}Z` : t;
}

function invalid(option: string, value: string, detail: string): WeirError {
  return new WeirError('WEIR_CLI_INVALID_OPTION', { option, value: JSON.stringify(value), detail });
}

/** Option values that need no database, checked before the store is opened. */
function parseOptions(opts: FailedListOptions): Omit<FailedEventFilter, 'sourceId'> {
  const filter: Omit<FailedEventFilter, 'sourceId'> = {};
  if (opts.limit !== undefined) {
    const n = /^\d+$/.test(opts.limit) ? Number(opts.limit) : NaN;
    if (!(n >= 1 && n <= MAX_LIMIT)) throw invalid('--limit', opts.limit, `a whole number from 1 to ${MAX_LIMIT}`);
    filter.limit = n;
  }
  if (opts.since !== undefined) {
    const since = ISO_DATE.test(opts.since) ? new Date(asUtc(opts.since)) : undefined;
    if (since === undefined || Number.isNaN(since.getTime())) {
      throw invalid('--since', opts.since, 'an ISO-8601 date such as 2024-05-01 or 2024-05-01T12:00:00Z');
    }
    filter.since = since;
  }
  if (opts.reason !== undefined) {
    // Reason codes are upper case; accept `weir_event_missing_type` typed in a hurry.
    const reason = opts.reason.toUpperCase();
    if (!REASON.test(reason)) throw invalid('--reason', opts.reason, 'a reason code such as WEIR_EVENT_MISSING_TYPE');
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
  };
}

/**
 * `weir failed list`: shows events that broke the spec, newest first, with their reason codes.
 *
 * @example
 * ```sh
 * weir failed list --source web --reason WEIR_EVENT_MISSING_TYPE --since 2024-05-01 --limit 20
 * weir failed list --json | jq -r .payload
 * ```
 */
export function register(program: Command, ctx: CliContext): void {
  const failed = program.command('failed').description('inspect failed events (events kept with a reason code)');

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
        if (opts.source !== undefined) {
          const source = await state.getSource(opts.source);
          if (source === undefined) throw invalid('--source', opts.source, 'no source with this id or name');
          filter.sourceId = source.id;
        }
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
      ]);
      for (const line of formatTable(['time', 'source', 'reason', 'message', 'message id', 'payload'], rows)) ctx.out(line);
    });
}
