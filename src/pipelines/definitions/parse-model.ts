/**
 * One file of the pipelines folder into a model: the header (YAML in the leading comment lines,
 * `-- ` for SQL and `# ` for shell) and, for SQL, the template after it. Every problem found is
 * returned with its file line, rather than thrown at the first one.
 */
import { Cron } from 'croner';
import { LineCounter, isMap, isSeq, parseDocument, type Node, type Pair } from 'yaml';
import { errorMessage, type ErrorCode, type ErrorParams } from '../../errors/catalogue.js';
import { parseDuration } from './durations.js';
import type { CheckSpec, Grain, Materialized, Model, Problem, Severity, Trigger } from './model.js';
import { parseTemplate, placeholders, type Template } from './template.js';

export interface ModelDefaults {
  /** Schema models are built in when their header names none. */
  schema: string;
}

const SHARED_KEYS = ['partition', 'schedule', 'trigger', 'lateness', 'start', 'retries', 'retry_delay', 'timeout', 'depends_on', 'description'];
const SQL_KEYS = new Set([...SHARED_KEYS, 'materialized', 'partition_by', 'schema', 'checks']);
const SHELL_KEYS = new Set(SHARED_KEYS);

const MATERIALIZED: readonly Materialized[] = ['table', 'incremental', 'view'];
const GRAINS: readonly Grain[] = ['hourly', 'daily', 'none'];
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_TIMEOUT_MS = 3_600_000;
const DEFAULT_RETRY_DELAY_MS = 10_000;
const MAX_RETRIES = 100;

export function problem(code: ErrorCode, file: string, line: number, params: ErrorParams): Problem {
  return { code, file, line, message: errorMessage(code, params) };
}

interface Header {
  /** The header as YAML text, one line per header line. */
  yaml: string;
  /** File line (1-based) of each YAML line. */
  lines: number[];
  /** File line where the body starts. */
  bodyLine: number;
  /** The text after the header. */
  body: string;
  shebang?: string;
}

/** The leading comment block, with its comment markers removed. */
function splitHeader(text: string, kind: 'sql' | 'shell'): Header {
  const all = text.split('\n');
  const marker = kind === 'sql' ? /^\s*--\s?/ : /^\s*#\s?/;
  let i = 0;
  let shebang: string | undefined;
  if (kind === 'shell' && all[0]?.startsWith('#!')) {
    shebang = all[0].slice(2).trim();
    i = 1;
  }
  const yaml: string[] = [];
  const lines: number[] = [];
  for (; i < all.length && marker.test(all[i] ?? ''); i++) {
    yaml.push((all[i] ?? '').replace(marker, ''));
    lines.push(i + 1);
  }
  return { yaml: yaml.join('\n'), lines, bodyLine: i + 1, body: all.slice(i).join('\n'), shebang };
}

/**
 * Parses one definition file. `file` is the path shown in problems, `path` the one read.
 *
 * @example
 * ```ts
 * const { model, problems } = parseModel('sessions.sql', '/p/sessions.sql', text, { schema: 'analytics' });
 * ```
 */
export function parseModel(file: string, path: string, text: string, defaults: ModelDefaults): { model?: Model; problems: Problem[] } {
  const kind = file.endsWith('.sh') ? 'shell' : 'sql';
  const name = (file.split('/').pop() ?? file).replace(/\.(sql|sh)$/, '');
  const problems: Problem[] = [];
  if (!IDENTIFIER.test(name)) problems.push(problem('WEIR_PIPELINE_BAD_NAME', file, 1, { model: name }));

  const header = splitHeader(text, kind);
  const counter = new LineCounter();
  const doc = parseDocument(header.yaml, { lineCounter: counter, uniqueKeys: true });
  const fileLine = (offset: number | undefined): number => {
    const yamlLine = offset === undefined ? 1 : counter.linePos(offset).line;
    return header.lines[yamlLine - 1] ?? header.bodyLine;
  };
  const bad = (line: number, detail: string) => problems.push(problem('WEIR_PIPELINE_BAD_HEADER', file, line, { detail }));
  for (const err of doc.errors) bad(header.lines[(err.linePos?.[0].line ?? 1) - 1] ?? 1, err.message.split('\n')[0] ?? err.message);

  const values = new Map<string, { value: unknown; line: number; node: Node | null }>();
  if (doc.errors.length === 0 && doc.contents !== null) {
    if (!isMap(doc.contents)) bad(fileLine(doc.contents.range?.[0]), 'the header must be `key: value` lines');
    else {
      const allowed = kind === 'sql' ? SQL_KEYS : SHELL_KEYS;
      for (const pair of doc.contents.items as Array<Pair<Node, Node | null>>) {
        const key = String((pair.key as { value?: unknown }).value ?? pair.key);
        const line = fileLine(pair.key.range?.[0]);
        if (!allowed.has(key)) {
          const hint = kind === 'shell' && SQL_KEYS.has(key) ? ' (SQL models only)' : `; known keys: ${[...allowed].sort().join(', ')}`;
          bad(line, `unknown key ${key}${hint}`);
          continue;
        }
        values.set(key, { value: pair.value?.toJSON() ?? null, line, node: pair.value });
      }
    }
  }
  const lineOf = (key: string): number => values.get(key)?.line ?? 1;
  const get = (key: string): unknown => values.get(key)?.value;

  const oneOf = <T extends string>(key: string, allowed: readonly T[], fallback: T): T => {
    const v = get(key);
    if (v === undefined) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    bad(lineOf(key), `${key} is ${JSON.stringify(v)}; expected ${allowed.join(' | ')}`);
    return fallback;
  };
  const duration = (key: string, fallback: number): number => {
    const v = get(key);
    if (v === undefined) return fallback;
    const ms = parseDuration(v);
    if (ms === undefined) bad(lineOf(key), `${key} is ${JSON.stringify(v)}; expected a duration such as 30s, 10m, 2h or 1d`);
    return ms ?? fallback;
  };

  const partition = oneOf('partition', GRAINS, 'none');
  const retriesValue = get('retries');
  let retries = 0;
  if (retriesValue !== undefined) {
    if (typeof retriesValue === 'number' && Number.isInteger(retriesValue) && retriesValue >= 0 && retriesValue <= MAX_RETRIES) retries = retriesValue;
    else bad(lineOf('retries'), `retries is ${JSON.stringify(retriesValue)}; expected a whole number from 0 to ${MAX_RETRIES}`);
  }
  const timeoutMs = duration('timeout', DEFAULT_TIMEOUT_MS);
  if (timeoutMs <= 0) bad(lineOf('timeout'), 'timeout must be longer than 0');
  const retryDelayMs = duration('retry_delay', DEFAULT_RETRY_DELAY_MS);

  const trigger = parseTrigger(get, lineOf, bad, duration, partition, values.has('lateness'));
  let start: Date | undefined;
  if (values.has('start')) {
    const v = get('start');
    const ms = typeof v === 'string' ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(ms)) bad(lineOf('start'), `start is ${JSON.stringify(v)}; expected a date such as 2026-01-01`);
    else if (trigger.kind !== 'watermark') bad(lineOf('start'), 'start is the first partition of a watermark trigger; add trigger: watermark');
    else start = new Date(ms);
  }
  const description = get('description');
  if (description !== undefined && typeof description !== 'string') bad(lineOf('description'), 'description must be text');

  const upstreamLine = new Map<string, number>();
  const dependsOn = get('depends_on');
  if (dependsOn !== undefined) {
    const list = typeof dependsOn === 'string' ? [dependsOn] : Array.isArray(dependsOn) ? dependsOn : null;
    if (list === null || list.some((d) => typeof d !== 'string' || !IDENTIFIER.test(d))) {
      bad(lineOf('depends_on'), 'depends_on must be a model name or a list of model names');
    } else for (const d of list as string[]) if (!upstreamLine.has(d)) upstreamLine.set(d, lineOf('depends_on'));
  }

  const base = {
    name,
    file,
    path,
    partition,
    trigger,
    start,
    retries,
    retryDelayMs,
    timeoutMs,
    description: typeof description === 'string' ? description : undefined,
    upstreamLine,
  };

  if (kind === 'shell') {
    const interpreter = header.shebang ? header.shebang.split(/\s+/).filter(Boolean) : ['/bin/sh'];
    return finish({ ...base, kind: 'shell', interpreter, upstream: [] }, problems);
  }

  const materialized = oneOf('materialized', MATERIALIZED, 'table');
  const partitionBy = get('partition_by');
  if (partitionBy !== undefined && (typeof partitionBy !== 'string' || partitionBy === '')) bad(lineOf('partition_by'), 'partition_by must be a column name');
  if (materialized === 'incremental') {
    if (partition === 'none') bad(lineOf('materialized'), 'an incremental model needs partition: hourly or daily');
    if (partitionBy === undefined) bad(lineOf('materialized'), 'an incremental model needs partition_by: <the column its partitions are cut on>');
  } else {
    if (partition !== 'none') bad(lineOf('partition'), `partition: ${partition} needs materialized: incremental (a ${materialized} is rebuilt whole)`);
    if (partitionBy !== undefined) bad(lineOf('partition_by'), 'partition_by needs materialized: incremental');
  }
  const schema = get('schema') ?? defaults.schema;
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) bad(lineOf('schema'), 'schema must be letters, digits and _');

  const templateProblem = (line: number, expression: string, detail: string) =>
    problems.push(problem('WEIR_PIPELINE_BAD_TEMPLATE', file, line, { expression, detail }));
  /** Parses SQL of the body or of a check, collecting its refs and checking its placeholders. */
  const sqlTemplate = (text: string, line: number): Template => {
    const parsed = parseTemplate(text, line);
    for (const p of parsed.problems) templateProblem(p.line, p.expression, p.detail);
    for (const p of placeholders(parsed.template)) {
      const e = p.expression;
      if (e.kind === 'ref' && !upstreamLine.has(e.model)) upstreamLine.set(e.model, p.line);
      if ((e.kind === 'start' || e.kind === 'end') && partition === 'none') {
        templateProblem(p.line, e.kind, 'only partitioned models have a start and an end (partition: hourly or daily)');
      }
    }
    return parsed.template;
  };
  const template = sqlTemplate(header.body, header.bodyLine);
  if (header.body.trim() === '') bad(header.bodyLine, 'the model has no SQL after its header');
  const checksEntry = values.get('checks');
  const checks = checksEntry === undefined ? [] : parseChecks(checksEntry.node, checksEntry.line, fileLine, bad, sqlTemplate);

  return finish(
    {
      ...base,
      kind: 'sql',
      materialized,
      partitionBy: typeof partitionBy === 'string' ? partitionBy : undefined,
      schema: typeof schema === 'string' ? schema : defaults.schema,
      template,
      checks,
      upstream: [],
    },
    problems,
  );
}

function finish(model: Model & { upstreamLine: Map<string, number> }, problems: Problem[]): { model?: Model; problems: Problem[] } {
  model.upstream = [...model.upstreamLine.keys()];
  return { model, problems };
}

function parseTrigger(
  get: (key: string) => unknown,
  lineOf: (key: string) => number,
  bad: (line: number, detail: string) => void,
  duration: (key: string, fallback: number) => number,
  partition: Grain,
  hasLateness: boolean,
): Trigger {
  const schedule = get('schedule');
  const declared = get('trigger');
  if (declared !== undefined && declared !== 'watermark' && declared !== 'schedule' && declared !== 'manual') {
    bad(lineOf('trigger'), `trigger is ${JSON.stringify(declared)}; expected watermark, schedule or manual`);
  }
  const latenessMs = duration('lateness', 0);
  if (hasLateness && declared !== 'watermark') bad(lineOf('lateness'), 'lateness applies to trigger: watermark only');
  if (schedule !== undefined) {
    if (declared === 'watermark' || declared === 'manual') {
      bad(lineOf('trigger'), `a model has one trigger: schedule and trigger: ${String(declared)} exclude each other`);
      return { kind: 'manual' };
    }
    if (typeof schedule !== 'string') {
      bad(lineOf('schedule'), 'schedule must be a cron expression in quotes, e.g. "15 * * * *"');
      return { kind: 'manual' };
    }
    try {
      new Cron(schedule, { paused: true, timezone: 'UTC' });
    } catch (err) {
      bad(lineOf('schedule'), `schedule ${JSON.stringify(schedule)} is not a cron expression: ${(err as Error).message}`);
      return { kind: 'manual' };
    }
    return { kind: 'schedule', cron: schedule };
  }
  if (declared === 'schedule') bad(lineOf('trigger'), 'trigger: schedule needs schedule: "<cron expression>"');
  if (declared === 'watermark') {
    if (partition === 'none') {
      bad(lineOf('trigger'), 'trigger: watermark runs partitions; add partition: hourly or daily');
      return { kind: 'manual' };
    }
    return { kind: 'watermark', latenessMs };
  }
  return { kind: 'manual' };
}

const CHECK_KINDS = new Set(['not_null', 'unique', 'accepted_values', 'row_count', 'freshness', 'sql']);

function parseChecks(
  node: Node | null,
  keyLine: number,
  fileLine: (offset: number | undefined) => number,
  bad: (line: number, detail: string) => void,
  sqlTemplate: (text: string, line: number) => Template,
): CheckSpec[] {
  if (!isSeq(node)) {
    bad(keyLine, 'checks must be a list, one `- kind: …` item per check');
    return [];
  }
  const checks: CheckSpec[] = [];
  let sqlCount = 0;
  for (const item of node.items as Node[]) {
    const line = fileLine(item.range?.[0]);
    const value = item.toJSON() as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      bad(line, 'a check is a map such as `- not_null: [id]`');
      continue;
    }
    const entries = value as Record<string, unknown>;
    const kinds = Object.keys(entries).filter((k) => CHECK_KINDS.has(k));
    const unknown = Object.keys(entries).filter((k) => !CHECK_KINDS.has(k) && k !== 'severity' && k !== 'name');
    if (kinds.length !== 1 || unknown.length > 0) {
      bad(line, `a check names exactly one of ${[...CHECK_KINDS].join(', ')} (with optional severity and name)${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}`);
      continue;
    }
    const kind = kinds[0]!;
    const severity = entries.severity ?? 'error';
    if (severity !== 'warn' && severity !== 'error') {
      bad(line, `severity is ${JSON.stringify(severity)}; expected warn or error`);
      continue;
    }
    if (entries.name !== undefined && (typeof entries.name !== 'string' || entries.name === '')) {
      bad(line, 'a check name must be text');
      continue;
    }
    const named = (fallback: string) => ({ name: (entries.name as string | undefined) ?? fallback, severity: severity as Severity, line });
    const spec = entries[kind];
    const columns = (v: unknown): string[] | undefined =>
      typeof v === 'string' && v !== '' ? [v] : Array.isArray(v) && v.length > 0 && v.every((c) => typeof c === 'string' && c !== '') ? (v as string[]) : undefined;
    switch (kind) {
      case 'not_null': {
        const cols = columns(spec);
        if (!cols) bad(line, 'not_null takes a column or a list of columns');
        else for (const column of cols) checks.push({ ...named(`not_null(${column})`), kind, column });
        break;
      }
      case 'unique': {
        const cols = columns(spec);
        if (!cols) bad(line, 'unique takes a column or a list of columns (unique together)');
        else checks.push({ ...named(`unique(${cols.join(', ')})`), kind, columns: cols });
        break;
      }
      case 'accepted_values': {
        const s = spec as { column?: unknown; values?: unknown } | null;
        const ok =
          s !== null && typeof s === 'object' && typeof s.column === 'string' && Array.isArray(s.values) && s.values.length > 0 &&
          s.values.every((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
        if (!ok) bad(line, 'accepted_values takes {column: <name>, values: [<value>, …]}');
        else checks.push({ ...named(`accepted_values(${s.column as string})`), kind, column: s.column as string, values: s.values as Array<string | number | boolean> });
        break;
      }
      case 'row_count': {
        const s = spec as { min?: unknown; max?: unknown } | null;
        const count = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isInteger(v) && v >= 0);
        const extra = s !== null && typeof s === 'object' ? Object.keys(s).filter((k) => k !== 'min' && k !== 'max') : [];
        if (s === null || typeof s !== 'object' || (s.min === undefined && s.max === undefined) || !count(s.min) || !count(s.max) || extra.length > 0) {
          bad(line, 'row_count takes {min: <n>, max: <n>} (either or both, whole numbers ≥ 0)');
        } else if (typeof s.min === 'number' && typeof s.max === 'number' && s.min > s.max) {
          bad(line, `row_count min ${s.min} is above max ${s.max}`);
        } else checks.push({ ...named('row_count'), kind, min: s.min as number | undefined, max: s.max as number | undefined });
        break;
      }
      case 'freshness': {
        const s = spec as { column?: unknown; max_age?: unknown } | null;
        const maxAgeMs = s !== null && typeof s === 'object' ? parseDuration(s.max_age) : undefined;
        if (s === null || typeof s !== 'object' || typeof s.column !== 'string' || maxAgeMs === undefined) {
          bad(line, 'freshness takes {column: <timestamp column>, max_age: <duration such as 2h>}');
        } else checks.push({ ...named(`freshness(${s.column})`), kind, column: s.column, maxAgeMs });
        break;
      }
      case 'sql': {
        sqlCount += 1;
        if (typeof spec !== 'string' || spec.trim() === '') bad(line, 'sql takes a query that must return no rows');
        else checks.push({ ...named(`sql_${sqlCount}`), kind, template: sqlTemplate(spec, line) });
        break;
      }
    }
  }
  const seen = new Set<string>();
  for (const c of checks) {
    if (seen.has(c.name)) bad(c.line, `two checks are named ${c.name}; give one a name: key`);
    seen.add(c.name);
  }
  return checks;
}
