import { InvalidArgumentError } from 'commander';
import { WeirError } from '../errors/catalogue.js';

/**
 * What CLI commands get from `main.ts`: a way to open the metadata store and where to print.
 * Commands never touch `process.stdout` or pick an adapter themselves, so tests can run them
 * with a temporary store and capture the output.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const ctx: CliContext = { openState: () => openSqliteStateStore({ file }), out: (l) => lines.push(l) };
 * register(program, ctx);
 * await program.parseAsync(['node', 'weir', 'sources', 'list']);
 * ```
 */
import type { StateStore } from '../state/state-store.js';

export interface CliContext {
  /** Opens the metadata store. It need not be bootstrapped; the command closes it. */
  openState(): Promise<StateStore>;
  /** Command output (stdout): tables, JSON, ids. */
  out: (line: string) => void;
  /** Notices that are not the command's output (stderr). Defaults to `process.stderr`. */
  err?: (line: string) => void;
  /** All of standard input (secrets such as `--password-stdin`). Defaults to `process.stdin`. */
  readStdin?: () => Promise<string>;
}

/**
 * Opens the store, makes sure it is migrated and bootstrapped, runs `fn`, and closes the store.
 * When this call is what first initialised the store, the admin token is shown (once) on `err`,
 * since no later call can show it again.
 *
 * @example
 * ```ts
 * const sources = await withState(ctx, (state) => state.listSources());
 * ```
 */
export async function withState<T>(ctx: CliContext, fn: (state: StateStore) => Promise<T>): Promise<T> {
  const state = await ctx.openState();
  try {
    const boot = await state.bootstrap();
    if (boot.adminToken !== undefined) {
      const err = ctx.err ?? ((line: string) => process.stderr.write(`${line}\n`));
      err(`weir: initialised the metadata store; admin token (shown only now): ${boot.adminToken}`);
    }
    return await fn(state);
  } finally {
    await state.close();
  }
}

// Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) reorder what a terminal
// shows; C0/C1 controls include ANSI escape sequences.
const UNPRINTABLE = /[\p{Cc}\u202A-\u202E\u2066-\u2069]/gu;

/**
 * Makes text safe to print to a terminal: event data and names are attacker-controlled, and an
 * escape sequence in them must show as text, not act on the terminal.
 *
 * @example
 * ```ts
 * printable('a\u001b[2Jb'); // 'a\\u001b[2Jb'
 * ```
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `JSON.stringify` for output that may reach a terminal: it also escapes the bidirectional
 * controls, which JSON allows raw but which reorder what a terminal shows. Still valid JSON.
 *
 * @example
 * ```ts
 * jsonLine({ name: 'a\u202eb' }); // '{"name":"a\\u202eb"}'
 * ```
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(/[\u202A-\u202E\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** Cuts `text` to at most `max` characters, marking the cut with an ellipsis. */
export function shorten(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Lays rows out in left-aligned columns under upper-case headers, two spaces apart. Cells are
 * printed as given: pass them through {@link printable} first when they may hold event data.
 *
 * @example
 * ```ts
 * formatTable(['id', 'name'], [['src_1', 'web']]);
 * // ['ID     NAME', 'src_1  web']
 * ```
 */
export function formatTable(headers: string[], rows: string[][]): string[] {
  const all = [headers.map((h) => h.toUpperCase()), ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => Array.from(r[i] ?? '').length)));
  return all.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - Array.from(cell).length)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * A commander argument parser for whole numbers ≥ 1; commander reports a refusal with the option
 * and the value, and main.ts exits 2.
 *
 * @example
 * ```ts
 * program.option('--limit <n>', 'at most n', positiveInt('--limit'));
 * ```
 */
export function positiveInt(option: string): (value: string) => number {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${option} takes a whole number ≥ 1`);
    return n;
  };
}

/**
 * The error of a bad option value: main.ts prints it with the option and the value, and exits 2.
 *
 * @example
 * ```ts
 * throw invalidOption('--source', 'nope', 'no source with this id or name');
 * ```
 */
export function invalidOption(option: string, value: string, detail: string): WeirError {
  return new WeirError('WEIR_CLI_INVALID_OPTION', { option, value: JSON.stringify(value), detail });
}

// A date, optionally with a time and a zone. Checked before `new Date()`, which also accepts
// forms like "March 7" whose meaning depends on the engine.
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Reads an ISO-8601 date option. JavaScript reads a date-time without a zone as local time but a
 * bare date as UTC; output is UTC, so a zone-less time is taken as UTC too.
 *
 * @example
 * ```ts
 * parseDateOption('--since', '2024-05-01T12:00'); // 2024-05-01T12:00:00.000Z
 * ```
 */
export function parseDateOption(option: string, value: string): Date {
  const t = value.replace(' ', 'T').toUpperCase();
  const date = ISO_DATE.test(value) ? new Date(/T[^Z+-]*$/.test(t) ? `${t}Z` : t) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw invalidOption(option, value, 'an ISO-8601 date such as 2024-05-01 or 2024-05-01T12:00:00Z');
  }
  return date;
}

/** RFC 4180: quote a field when it holds a comma, a quote or a line break. */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
