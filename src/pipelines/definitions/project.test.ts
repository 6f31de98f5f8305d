import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { WeirError } from '../../errors/catalogue.js';
import { loadProject } from './project.js';
import { parseTemplate } from './template.js';
import { parseDuration } from './durations.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-defs-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const load = (files: Record<string, string>) => loadProject(folder(files), { schema: 'analytics' });

/** Problems as `file:line code` plus a fragment of the message, for compact comparisons. */
const brief = (files: Record<string, string>) => load(files).problems.map((p) => `${p.file}:${p.line} ${p.code}`);

describe('pipeline definitions', () => {
  it('reads a SQL model header, its template and its checks', () => {
    const project = load({
      'sessions.sql': [
        '-- materialized: incremental        # table | incremental | view',
        '-- partition: daily',
        '-- partition_by: started_at',
        '-- trigger: watermark',
        '-- lateness: 10m',
        '-- retries: 2',
        '-- timeout: 5m',
        '-- checks:',
        '--   - not_null: [session_id, anonymous_id]',
        '--   - unique: session_id',
        '--   - accepted_values: {column: device, values: [desktop, mobile, tablet]}',
        '--   - row_count: {min: 1}',
        '--   - freshness: {column: started_at, max_age: 2h}',
        '--   - sql: "select * from {{ this }} where duration_s < 0"',
        '--     severity: warn',
        "select * from {{ source('web.pages') }}",
        'where timestamp >= {{ start }} and timestamp < {{ end }}',
      ].join('\n'),
    });
    assert.deepEqual(project.problems, []);
    const m = project.models.get('sessions');
    assert.ok(m && m.kind === 'sql');
    assert.equal(m.materialized, 'incremental');
    assert.equal(m.partition, 'daily');
    assert.equal(m.partitionBy, 'started_at');
    assert.deepEqual(m.trigger, { kind: 'watermark', latenessMs: 600_000 });
    assert.equal(m.retries, 2);
    assert.equal(m.timeoutMs, 300_000);
    assert.equal(m.schema, 'analytics');
    assert.deepEqual(
      m.checks.map((c) => [c.name, c.kind, c.severity, c.line]),
      [
        ['not_null(session_id)', 'not_null', 'error', 9],
        ['not_null(anonymous_id)', 'not_null', 'error', 9],
        ['unique(session_id)', 'unique', 'error', 10],
        ['accepted_values(device)', 'accepted_values', 'error', 11],
        ['row_count', 'row_count', 'error', 12],
        ['freshness(started_at)', 'freshness', 'error', 13],
        ['sql_1', 'sql', 'warn', 14],
      ],
    );
    const placeholders = m.template.filter((p) => typeof p !== 'string');
    assert.deepEqual(placeholders, [
      { expression: { kind: 'source', schema: 'web', table: 'pages' }, line: 16 },
      { expression: { kind: 'start' }, line: 17 },
      { expression: { kind: 'end' }, line: 17 },
    ]);
  });

  it('reads shell steps: shebang, depends_on, and refs of SQL models and checks build the graph in order', () => {
    const project = load({
      'export.sh': '#!/usr/bin/env bash\n# depends_on: [b]\n# retries: 1\n# timeout: 30s\necho "$START"\n',
      'a.sql': "select 1 as x from {{ source('raw') }}",
      'b.sql': "-- checks:\n--   - sql: \"select * from {{ ref('c') }} where false\"\nselect * from {{ ref('a') }}",
      'c.sql': "select * from {{ ref('a') }}",
    });
    assert.deepEqual(project.problems, []);
    const step = project.models.get('export');
    assert.ok(step && step.kind === 'shell');
    assert.deepEqual(step.interpreter, ['/usr/bin/env', 'bash']);
    assert.deepEqual(step.upstream, ['b']);
    assert.equal(step.timeoutMs, 30_000);
    assert.deepEqual(project.models.get('b')?.upstream, ['a', 'c'], 'refs of checks count too');
    assert.deepEqual(project.order, ['a', 'c', 'b', 'export']);
  });

  it('reports bad header keys and values with file and line, all at once', () => {
    assert.deepEqual(
      brief({
        'm.sql': [
          '-- materialized: snapshot',
          '-- partition: weekly',
          '-- retries: -1',
          '-- timeout: soon',
          '-- colour: blue',
          '-- schedule: "61 * * * *"',
          '-- checks:',
          '--   - not_null: []',
          '--   - row_count: {min: 5, max: 1}',
          '--   - unique: id',
          '--     severity: fatal',
          'select 1',
        ].join('\n'),
        'sub/n.sh': '# materialized: table\n# lateness: 5m\necho',
        'broken.sql': '-- retries: [1,\nselect 1',
      }),
      [
        'broken.sql:1 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:1 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:2 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:3 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:4 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:5 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:6 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:8 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:9 WEIR_PIPELINE_BAD_HEADER',
        'm.sql:10 WEIR_PIPELINE_BAD_HEADER',
        'sub/n.sh:1 WEIR_PIPELINE_BAD_HEADER',
        'sub/n.sh:2 WEIR_PIPELINE_BAD_HEADER',
      ],
    );
    const messages = load({ 'm.sql': '-- materialized: snapshot\nselect 1' }).problems.map((p) => p.message);
    assert.deepEqual(messages, ['bad header: materialized is "snapshot"; expected table | incremental | view']);
  });

  it('checks the combinations of settings', () => {
    assert.deepEqual(
      load({
        'inc.sql': '-- materialized: incremental\nselect 1',
        'tab.sql': '-- partition: daily\nselect 1',
        'win.sql': 'select 1 where t >= {{ start }}',
        'wm.sql': '-- trigger: watermark\nselect 1',
        'two.sql': '-- trigger: watermark\n-- schedule: "0 * * * *"\n-- partition: daily\n-- materialized: incremental\n-- partition_by: t\nselect 1',
      }).problems.map((p) => `${p.file}:${p.line} ${p.message}`),
      [
        'inc.sql:1 bad header: an incremental model needs partition: hourly or daily',
        'inc.sql:1 bad header: an incremental model needs partition_by: <the column its partitions are cut on>',
        'tab.sql:1 bad header: partition: daily needs materialized: incremental (a table is rebuilt whole)',
        'two.sql:1 bad header: a model has one trigger: schedule and trigger: watermark exclude each other',
        'win.sql:1 bad template expression {{ start }}: only partitioned models have a start and an end (partition: hourly or daily)',
        'wm.sql:1 bad header: trigger: watermark runs partitions; add partition: hourly or daily',
      ],
    );
  });

  it('reports unknown refs, bad template expressions, duplicates and bad names', () => {
    assert.deepEqual(
      load({
        'a.sql': "select *\nfrom {{ ref('nope') }} join {{ whatever }}\njoin {{ source('a.b.c') }}",
        'b.sh': '# depends_on: [ghost]\ntrue',
        'x/a.sql': 'select 2',
        '2bad.sql': 'select 3',
        'c.sql': "select * from {{ ref('b') }}",
      }).problems.map((p) => `${p.file}:${p.line} ${p.code} ${p.message}`),
      [
        '2bad.sql:1 WEIR_PIPELINE_BAD_NAME model name 2bad (the file name) must be letters, digits and _, not starting with a digit',
        "a.sql:2 WEIR_PIPELINE_BAD_TEMPLATE bad template expression {{ whatever }}: expected start, end, this, ref('model') or source('schema.table')",
        'a.sql:2 WEIR_PIPELINE_UNKNOWN_REF a depends on nope, which is not a model',
        'a.sql:3 WEIR_PIPELINE_BAD_TEMPLATE bad template expression {{ source(\'a.b.c\') }}: "a.b.c" is not a table or schema.table',
        'b.sh:1 WEIR_PIPELINE_UNKNOWN_REF b depends on ghost, which is not a model',
        "c.sql:1 WEIR_PIPELINE_BAD_TEMPLATE bad template expression {{ ref('b') }}: b is a shell step and has no table; use depends_on: [b]",
        'x/a.sql:1 WEIR_PIPELINE_DUPLICATE_MODEL a model named a is also defined in a.sql',
      ],
    );
  });

  it('reports each cycle once, with its path, at the line of the reference that closes it', () => {
    const project = load({
      'a.sql': "select 1\nfrom {{ ref('b') }}",
      'b.sql': "select * from {{ ref('c') }}",
      'c.sql': "-- depends_on: a\nselect 1",
      'self.sql': "select * from\n\n{{ ref('self') }}",
      'ok.sql': 'select 1',
      'after.sql': "select * from {{ ref('a') }}",
    });
    assert.deepEqual(
      project.problems.map((p) => `${p.file}:${p.line} ${p.code} ${p.message}`),
      [
        'a.sql:2 WEIR_PIPELINE_CYCLE models depend on each other in a cycle: a → b → c → a',
        'self.sql:3 WEIR_PIPELINE_CYCLE models depend on each other in a cycle: self → self',
      ],
    );
    assert.deepEqual(project.order, ['ok'], 'models in or after a cycle cannot be ordered');
  });

  it('a missing folder is WEIR_PIPELINE_NO_FOLDER', () => {
    assert.throws(() => loadProject(join(tmpdir(), 'weir-no-such-folder-here'), { schema: 'a' }), (err: unknown) => {
      assert.ok(err instanceof WeirError);
      assert.equal(err.code, 'WEIR_PIPELINE_NO_FOLDER');
      return true;
    });
  });
});

describe('templates and durations', () => {
  it('parses placeholders with their lines, keeping the text around them', () => {
    const { template, problems } = parseTemplate("a\n{{ref(\"x\")}} b {{ this }}\nc {{ source('t') }}", 10);
    assert.deepEqual(problems, []);
    assert.deepEqual(template, [
      'a\n',
      { expression: { kind: 'ref', model: 'x' }, line: 11 },
      ' b ',
      { expression: { kind: 'this' }, line: 11 },
      '\nc ',
      { expression: { kind: 'source', table: 't' }, line: 12 },
    ]);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration(30), 30_000);
    assert.equal(parseDuration('10 minutes'), undefined);
    assert.equal(parseDuration(-1), undefined);
  });
});
