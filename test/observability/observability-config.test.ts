/**
 * Keeps the monitoring files in step with the code: the alert rules, the Grafana dashboard and
 * the runbooks use only metrics Weir exposes, every alert links to a runbook section that
 * exists, and (when promtool is installed) Prometheus itself accepts the rules and their unit
 * tests.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { createMetrics, type MetricsRole } from '../../src/observability/metrics.js';
import { requireOrSkip } from '../helpers/pipeline-fixtures.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ALERTS = `${ROOT}deploy/observability/alerts.yml`;
const ALERT_TESTS = `${ROOT}deploy/observability/alerts.test.yml`;
const DASHBOARD = `${ROOT}deploy/observability/grafana-dashboard.json`;
const RUNBOOKS = `${ROOT}docs/runbooks.md`;
const RUNBOOK_URL = 'https://github.com/weir-data/weir/blob/main/docs/runbooks.md#';
const SEVERITIES = new Set(['critical', 'warning', 'info']);
/** Every role's registry; a role added to `MetricsRole` must be added here. */
const ROLES: readonly MetricsRole[] = ['collector', 'sinks', 'supervisor'];
/** Series Prometheus makes itself, not Weir. */
const PROMETHEUS_SERIES = new Set(['up']);
const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'offset', 'bool', 'inf', 'nan']);

/** Metric names per role, read from the registries `createMetrics` builds (histogram series included). */
async function metricNamesByRole(): Promise<Map<MetricsRole, Set<string>>> {
  const byRole = new Map<MetricsRole, Set<string>>();
  for (const role of ROLES) {
    const names = new Set<string>();
    for (const m of await createMetrics({ role }).registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    }
    byRole.set(role, names);
  }
  return byRole;
}

/**
 * The metric names a PromQL expression selects: what is left once strings, label matchers,
 * ranges, grouping clauses, numbers and function calls are taken out.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.$])[a-zA-Z_:][\w:]*/g)) {
    const call = /^\s*\(/.test(bare.slice(m.index + m[0].length));
    if (!call && !PROMQL_WORDS.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

/** The anchors GitHub gives the headings of a Markdown file (lowercase, spaces to '-', punctuation dropped). */
export function githubAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** `WeirIngestHigh5xxRatio` → `weir-ingest-high-5xx-ratio`: the runbook anchor of an alert. */
export function kebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([a-zA-Z])([0-9])/g, '$1-$2')
    .toLowerCase();
}

function unknownNames(exprs: Iterable<string>, known: Set<string>): string[] {
  const unknown = new Set<string>();
  for (const expr of exprs) for (const name of metricNamesIn(expr)) if (!known.has(name) && !PROMETHEUS_SERIES.has(name)) unknown.add(name);
  return [...unknown];
}

interface Rule {
  alert?: unknown;
  expr?: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

function loadRules(): Rule[] {
  const doc = parse(readFileSync(ALERTS, 'utf8')) as { groups?: Array<{ name?: unknown; rules?: Rule[] }> };
  assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0, 'alerts.yml has no groups');
  const groupNames = doc.groups.map((g) => g.name);
  assert.equal(new Set(groupNames).size, groupNames.length, `group names repeat: ${groupNames.join(', ')}`);
  return doc.groups.flatMap((g) => {
    assert.ok(typeof g.name === 'string' && Array.isArray(g.rules) && g.rules.length > 0, `group ${String(g.name)} needs a name and rules`);
    return g.rules;
  });
}

interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { h?: unknown; w?: unknown; x?: unknown; y?: unknown };
  datasource?: { uid?: unknown };
  targets?: Array<{ expr?: unknown; datasource?: { uid?: unknown } }>;
}

function loadDashboard(): { schemaVersion?: unknown; templating?: { list?: Array<{ name?: unknown; type?: unknown }> }; panels?: Panel[] } {
  return JSON.parse(readFileSync(DASHBOARD, 'utf8'));
}

describe('alert rules (deploy/observability/alerts.yml)', () => {
  it('every rule has a unique name, for, severity, summary, description and a runbook section named after it', () => {
    const anchors = githubAnchors(readFileSync(RUNBOOKS, 'utf8'));
    const rules = loadRules();
    const names = new Set<string>();
    for (const r of rules) {
      const name = String(r.alert);
      assert.match(name, /^Weir[A-Z][A-Za-z0-9]+$/, `alert name ${name}`);
      assert.ok(!names.has(name), `alert ${name} is defined twice`);
      names.add(name);
      assert.ok(typeof r.expr === 'string' && r.expr.trim() !== '', `${name}: no expr`);
      assert.match(String(r.for), /^\d+[smhd]$/, `${name}: for`);
      assert.ok(SEVERITIES.has(String(r.labels?.severity)), `${name}: severity ${String(r.labels?.severity)} is not one of ${[...SEVERITIES].join(', ')}`);
      for (const key of ['summary', 'description'] as const) {
        assert.ok(typeof r.annotations?.[key] === 'string' && r.annotations[key] !== '', `${name}: annotations.${key}`);
      }
      assert.equal(r.annotations?.runbook_url, RUNBOOK_URL + kebab(name), `${name}: runbook_url`);
      assert.ok(anchors.has(kebab(name)), `${name}: docs/runbooks.md has no section #${kebab(name)}`);
    }
    assert.ok(anchors.has('scrape-configuration'), 'docs/runbooks.md has no "Scrape configuration" section');
  });

  it('every alert expression uses only metrics Weir exposes', async () => {
    const known = new Set([...(await metricNamesByRole()).values()].flatMap((s) => [...s]));
    const exprs = loadRules().map((r) => String(r.expr));
    assert.ok(exprs.every((e) => metricNamesIn(e).length > 0), 'an expression selects no metric');
    assert.deepEqual(unknownNames(exprs, known), []);
  });
});

describe('Grafana dashboard (deploy/observability/grafana-dashboard.json)', () => {
  it('has unique panel ids, a place on the grid, and queries through the DS_PROMETHEUS variable', () => {
    const dash = loadDashboard();
    assert.ok(Number(dash.schemaVersion) >= 36, `schemaVersion ${String(dash.schemaVersion)}`);
    assert.ok(
      dash.templating?.list?.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource'),
      'no datasource variable DS_PROMETHEUS',
    );
    const panels = dash.panels ?? [];
    assert.ok(panels.length > 0, 'no panels');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids repeat');
    const cells = new Map<string, unknown>();
    for (const p of panels) {
      const where = `panel ${String(p.id)} "${String(p.title)}"`;
      assert.ok(Number.isInteger(p.id), `${where}: id`);
      const g = p.gridPos ?? {};
      const [h, w, x, y] = [g.h, g.w, g.x, g.y].map(Number);
      assert.ok([h, w, x, y].every((n) => Number.isInteger(n) && n! >= 0) && h! > 0 && w! > 0 && x! + w! <= 24, `${where}: gridPos ${JSON.stringify(g)}`);
      for (let row = y!; row < y! + h!; row++) {
        for (let col = x!; col < x! + w!; col++) {
          const other = cells.get(`${row}:${col}`);
          assert.equal(other, undefined, `${where} overlaps panel ${String(other)}`);
          cells.set(`${row}:${col}`, p.id);
        }
      }
      if (p.type === 'row') continue;
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', `${where}: datasource`);
      assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `${where}: no targets`);
      for (const t of p.targets) {
        assert.ok(typeof t.expr === 'string' && t.expr.trim() !== '', `${where}: a target has no expr`);
        assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', `${where}: target datasource`);
      }
    }
  });

  it('queries only metrics Weir exposes, and some of every role', async () => {
    const byRole = await metricNamesByRole();
    const known = new Set([...byRole.values()].flatMap((s) => [...s]));
    const exprs = (loadDashboard().panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => String(t.expr)));
    assert.deepEqual(unknownNames(exprs, known), []);
    const used = new Set(exprs.flatMap(metricNamesIn));
    for (const [role, names] of byRole) assert.ok([...names].some((n) => used.has(n)), `no panel shows a metric of role ${role}`);
  });
});

describe('promtool', () => {
  it('checks the rules and passes their unit tests (alerts.test.yml)', (t) => {
    const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    const fx = found.error ? { skip: 'promtool is not on PATH (Debian package prometheus)' } : {};
    if (!requireOrSkip('promtool', fx, (reason) => t.skip(reason))) return;
    for (const args of [['check', 'rules', ALERTS], ['test', 'rules', ALERT_TESTS]]) {
      const r = spawnSync('promtool', args, { encoding: 'utf8' });
      assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
    }
  });
});

describe('helpers of this file', () => {
  it('find metric names in PromQL, and anchors the way GitHub does', () => {
    assert.deepEqual(
      metricNamesIn('histogram_quantile(0.99, sum by (le) (rate(weir_a_bucket{code=~"x|y"}[5m]))) > 1e6 unless on () sum(weir_b) or up == 0'),
      ['weir_a_bucket', 'weir_b', 'up'],
    );
    assert.deepEqual([...githubAnchors('# A title\n```\n# not a heading\n```\n## Weir ingest high 5xx ratio\n## A title')], ['a-title', 'weir-ingest-high-5xx-ratio', 'a-title-1']);
    assert.equal(kebab('WeirIngestHigh5xxRatio'), 'weir-ingest-high-5xx-ratio');
  });
});
