/**
 * What every benchmark shares: the machine it ran on, its `--json <file>` report, and the
 * generated section of BENCHMARKS.md that `npm run bench` (bench/all.ts) builds from the reports.
 *
 * The JSON contract, one file per bench run:
 * `{ name, machine, date, figures: [{ label, value, unit, target?, met? }], notes? }`.
 * `machine` is the {@link MachineFacts} object here; a plain string from an older writer is
 * accepted when rendering, so a bench that writes its own JSON still lands in the report.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';

/** What a figure is compared with, and whether it was met. */
export interface BenchFigure {
  label: string;
  value: number;
  unit: string;
  /** The target as people read it, e.g. `≥ 100,000 events/s`. */
  target?: string;
  met?: boolean;
}

/** The machine a figure was measured on; `load` is the 1/5/15-minute load average at the start. */
export interface MachineFacts {
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  node: string;
  load: string;
}

export interface BenchReport {
  name: string;
  machine: MachineFacts | string;
  /** ISO 8601 time the bench started. */
  date: string;
  figures: BenchFigure[];
  /** Conditions a reader needs beside the figures (sizes, what was skipped and why). */
  notes?: string[];
}

/** The load average as `uptime` prints it. */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

/**
 * Facts of this machine now.
 *
 * @example
 * ```ts
 * machineFacts(); // { cpu: 'AMD EPYC …', cores: 2, ramGiB: 24, kernel: 'Linux 6.18.44', node: 'v20.20.2', load: '0.74, 0.67, 0.42' }
 * ```
 */
export function machineFacts(): MachineFacts {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown cpu',
    cores: cpus().length,
    ramGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()}`,
    node: process.version,
    load: loadAverage(),
  };
}

/** One line naming the machine, e.g. `2 × AMD EPYC, 24 GiB, Linux 6.1, Node v20.20.2`. */
export function describeMachine(m: MachineFacts | string): string {
  return typeof m === 'string' ? m : `${m.cores} × ${m.cpu}, ${m.ramGiB} GiB, ${m.kernel}, Node ${m.node}`;
}

/** A bench's figures, written as JSON by {@link BenchRecorder.finish} when `--json` was given. */
export interface BenchRecorder {
  readonly report: BenchReport;
  /** Progress on stderr, prefixed with the bench's name (stdout is for the result). */
  progress(line: string): void;
  figure(figure: BenchFigure): void;
  note(text: string): void;
  /** Writes the JSON report when `--json <file>` was given; returns the report. */
  finish(): BenchReport;
}

/**
 * Starts a bench's report: reads `--json <file>` from argv (other arguments are refused with exit
 * code 2, naming them) and takes the machine facts and date now.
 *
 * @example
 * ```ts
 * const rec = startBench('ingest');
 * rec.figure({ label: 'batched, saturation', value: 120_000, unit: 'events/s', target: '≥ 100,000 events/s', met: true });
 * rec.finish();
 * ```
 */
export function startBench(name: string, argv: string[] = process.argv.slice(2)): BenchRecorder {
  let json: string | undefined;
  try {
    json = parseArgs({ args: argv, options: { json: { type: 'string' } }, strict: true }).values.json;
  } catch (err) {
    process.stderr.write(`bench:${name}: ${(err as Error).message}\nusage: node dist/bench/${name}.js [--json <file>]\n`);
    process.exit(2);
  }
  const report: BenchReport = { name, machine: machineFacts(), date: new Date().toISOString(), figures: [] };
  return {
    report,
    progress: (line) => process.stderr.write(`[bench:${name}] ${line}\n`),
    figure: (f) => void report.figures.push(f),
    note: (text) => void (report.notes ??= []).push(text),
    finish() {
      // Other work on the machine changes during a run: the load at the end says how much.
      (report.notes ??= []).push(`Load average at the end: ${loadAverage()}.`);
      if (json !== undefined) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
      return report;
    },
  };
}

/** `at least` / `at most` targets, with met computed from the value. */
export function atLeast(value: number, min: number, unit: string): Pick<BenchFigure, 'target' | 'met'> {
  return { target: `≥ ${formatNumber(min)} ${unit}`, met: value >= min };
}

export function atMost(value: number, max: number, unit: string): Pick<BenchFigure, 'target' | 'met'> {
  return { target: `≤ ${formatNumber(max)} ${unit}`, met: value <= max };
}

/** Three significant digits at most, thousands separated: 123,456 / 12.3 / 0.457. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 || abs === 0 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** A bench that `npm run bench` listed but could not run, with the reason. */
export interface NotRun {
  name: string;
  reason: string;
}

export const BEGIN = '<!-- bench:begin -->';
export const END = '<!-- bench:end -->';
const blockMarker = (name: string) => `<!-- bench:${name} -->`;
const BLOCK = /^<!-- bench:([a-z0-9-]+) -->$/gm;

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The markdown block of one bench: when, where, under what load, and every figure.
 *
 * @example
 * ```ts
 * renderBlock({ name: 'realtime', reason: 'bench/realtime.ts is missing' }); // '<!-- bench:realtime -->\n### bench:realtime\n\nNot run: …'
 * ```
 */
export function renderBlock(r: BenchReport | NotRun): string {
  const lines = [blockMarker(r.name), `### bench:${r.name}`, ''];
  if ('reason' in r) {
    lines.push(`Not run: ${r.reason}.`);
    return lines.join('\n');
  }
  const load = typeof r.machine === 'string' ? '' : `, load average ${r.machine.load}`;
  lines.push(`${r.date.slice(0, 16).replace('T', ' ')} UTC${load}. Machine: ${describeMachine(r.machine)}.`, '');
  lines.push('| figure | value | target | met |', '|---|---|---|---|');
  for (const f of r.figures) {
    const met = f.met === undefined ? '' : f.met ? 'met' : '**not met**';
    lines.push(`| ${cell(f.label)} | ${formatNumber(f.value)} ${cell(f.unit)} | ${cell(f.target ?? '')} | ${met} |`);
  }
  if (r.notes?.length) lines.push('', ...r.notes.map((n) => `- ${n}`));
  return lines.join('\n');
}

/** Splits a generated section into its per-bench blocks, by marker. */
function blocksOf(section: string): Map<string, string> {
  const found = [...section.matchAll(BLOCK)];
  const blocks = new Map<string, string>();
  found.forEach((m, i) => blocks.set(m[1]!, section.slice(m.index, found[i + 1]?.index ?? section.length).trimEnd()));
  return blocks;
}

/**
 * The new BENCHMARKS.md: the generated section between {@link BEGIN} and {@link END} gets a block
 * per bench in `order`; a bench not in `results` keeps the block of its last run, so a subset run
 * updates only its own figures. Everything outside the markers is kept as it is; without markers
 * the section goes before the first `## ` heading (after the page's introduction).
 *
 * @example
 * ```ts
 * writeFileSync('BENCHMARKS.md', mergeReport(readFileSync('BENCHMARKS.md', 'utf8'), ['ingest'], [report], header));
 * ```
 */
export function mergeReport(page: string, order: string[], results: Array<BenchReport | NotRun>, header: string): string {
  const begin = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  const old = begin >= 0 && end > begin ? blocksOf(page.slice(begin + BEGIN.length, end)) : new Map<string, string>();
  for (const r of results) old.set(r.name, renderBlock(r));
  const names = [...order, ...[...old.keys()].filter((n) => !order.includes(n))];
  const body = names.flatMap((n) => (old.has(n) ? [old.get(n)!] : []));
  const section = [BEGIN, header, ...body, END].join('\n\n');
  if (begin >= 0 && end > begin) return page.slice(0, begin) + section + page.slice(end + END.length);
  const at = page.search(/^## /m);
  return at < 0 ? `${page.trimEnd()}\n\n${section}\n` : `${page.slice(0, at)}${section}\n\n${page.slice(at)}`;
}
