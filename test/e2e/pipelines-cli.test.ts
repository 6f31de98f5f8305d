import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, tempDir, weir } from '../helpers/weir-process.js';
import { writeProject } from '../helpers/pipeline-project.js';

describe('weir pipelines', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** A data directory with a pipelines folder beside it; `cli` runs weir there. */
  function setup(files: Record<string, string>) {
    const root = tempDir('weir-pcli-');
    dirs.push(root);
    writeProject(files, join(root, 'pipelines'));
    const env = { WEIR_DATA_DIR: join(root, '.weir'), WEIR_LOGGING_LEVEL: 'warn' };
    const cli = (...args: string[]) => weir(['pipelines', ...args], { cwd: root, env });
    return { root, env, cli };
  }

  it('validate prints every problem with file, line and code, and exits 1', () => {
    const { cli } = setup({
      'ok.sql': 'select 1 as x',
      'bad.sql': "-- partition: weekly\n-- retries: lots\nselect * from {{ ref('nowhere') }}",
      'loop_a.sql': "select * from {{ ref('loop_b') }}",
      'loop_b.sql': "select * from {{ ref('loop_a') }}",
    });
    const r = cli('validate');
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'bad.sql:1: WEIR_PIPELINE_BAD_HEADER: bad header: partition is "weekly"; expected hourly | daily | none',
      'bad.sql:2: WEIR_PIPELINE_BAD_HEADER: bad header: retries is "lots"; expected a whole number from 0 to 100',
      'bad.sql:3: WEIR_PIPELINE_UNKNOWN_REF: bad depends on nowhere, which is not a model',
      'loop_a.sql:1: WEIR_PIPELINE_CYCLE: models depend on each other in a cycle: loop_a → loop_b → loop_a',
      'weir: WEIR_PIPELINE_INVALID: 4 problem(s) in the pipelines of pipelines',
    ]);
    const missing = cli('--dir', 'elsewhere', 'list');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /WEIR_PIPELINE_NO_FOLDER: no pipelines folder at elsewhere/);
  });

  it('refuses bad option values naming the option and the value, with exit code 2', () => {
    const { cli } = setup({ 'daily.sh': '# partition: daily\ntrue\n' });
    const cases: Array<[string[], RegExp]> = [
      [['run', '--concurrency', '0'], /--concurrency takes a whole number ≥ 1/],
      [['run', '--partition', 'yesterday-ish'], /--partition takes a date .* not "yesterday-ish"/],
      [['backfill', 'daily', '--from', '2026-01-05', '--to', '2026-01-01'], /WEIR_CLI_INVALID_OPTION: invalid value for --to: 2026-01-01T00:00:00.000Z \(before --from/],
      [['backfill', 'daily', '--to', '2026-01-01'], /required option '--from <date>' not specified/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('run, status, retry of the failed part, and list', () => {
    const { root, cli } = setup({
      'base.sql': '-- checks:\n--   - not_null: [x]\nselect 1 as x',
      'derived.sql': "select x * 2 as y from {{ ref('base') }}",
      'step.sh': '# depends_on: [derived]\n[ -f fixed ] || { echo "not fixed yet"; exit 4; }\necho done\n',
      'after_step.sh': '# depends_on: step\necho after\n',
    });
    const first = cli('run');
    assert.equal(first.status, 1, first.stderr);
    const runId = /run (run_\w+) failed/.exec(first.stdout)?.[1];
    assert.ok(runId, first.stdout);
    assert.match(first.stdout, /✓ base succeeded/);
    assert.match(first.stdout, /✗ step failed .*: shell step step {2}failed: exit code 4/);
    assert.match(first.stdout, /⊘ after_step upstream_failed/);

    const status = cli('status', runId);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /base\s+succeeded\s+1\s+.*1 pass/);
    assert.match(status.stdout, /step\s+failed\s+1 /);
    const json = JSON.parse(cli('status', runId, '--json').stdout) as { state: string; tasks: unknown[]; attempts: unknown[]; checks: Array<{ check: string; status: string }> };
    assert.equal(json.state, 'failed');
    assert.equal(json.tasks.length, 4);
    assert.equal(json.attempts.length, 3, 'after_step never started');
    assert.deepEqual(json.checks.map((c) => [c.check, c.status]), [['not_null(x)', 'pass']]);

    writeProject({ fixed: '' }, join(root, 'pipelines'));
    const retried = cli('retry', runId);
    assert.equal(retried.status, 0, retried.stderr);
    assert.match(retried.stderr, /2 task\(s\) run again/);
    assert.match(retried.stdout, new RegExp(`run ${runId} succeeded: 4 succeeded`));
    assert.doesNotMatch(retried.stdout, /base/, 'what succeeded is not run again');

    const list = cli('list');
    assert.equal(list.status, 0);
    assert.match(list.stdout, /derived\s+table\s+none\s+manual\s+base\s+succeeded/);
    assert.match(list.stdout, /step\s+shell\s+none\s+manual\s+derived\s+succeeded/);
    const runs = cli('status');
    assert.match(runs.stdout, new RegExp(`${runId}\\s+manual\\s+succeeded\\s+4 succeeded`));
  });

  it('a backfill interrupted with Ctrl-C continues where it stopped when run again', async () => {
    const { root, env } = setup({
      // The second day blocks until a file appears: the test interrupts it there.
      'per_day.sh': [
        '# partition: daily',
        'echo "$START"',
        'if [ "$START" = "2026-01-02T00:00:00.000Z" ] && [ ! -f go ]; then touch waiting; sleep 60; fi',
      ].join('\n'),
    });
    const args = [CLI, 'pipelines', 'backfill', 'per_day', '--from', '2026-01-01', '--to', '2026-01-03'];
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Wait for the second day to be running (the file appears), then interrupt.
    // Shell steps run in the pipelines folder.
    while (!existsSync(join(root, 'pipelines', 'waiting'))) {
      if (child.exitCode !== null) assert.fail(`the backfill ended early: ${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    const runId = /backfill run (run_\w+)/.exec(stderr)?.[1];
    assert.ok(runId, stderr);
    assert.match(stderr, new RegExp(`interrupted; run ${runId} is unfinished`));

    writeProject({ go: '' }, join(root, 'pipelines'));
    const again = weir(['pipelines', 'backfill', 'per_day', '--from', '2026-01-01', '--to', '2026-01-03'], { cwd: root, env });
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`continuing the unfinished run ${runId} of this backfill \\(1/3 done\\)`));
    assert.match(again.stdout, new RegExp(`run ${runId} succeeded: 3 succeeded`));
    const json = JSON.parse(weir(['pipelines', 'status', runId, '--json'], { cwd: root, env }).stdout) as { attempts: Array<{ taskId: string; number: number; state: string }> };
    assert.deepEqual(
      json.attempts.map((a) => [a.number, a.state]),
      [
        [1, 'succeeded'],
        [1, 'cancelled'],
        [2, 'succeeded'],
        [1, 'succeeded'],
      ],
      'the first day ran once; the interrupted one was handed back, not counted as a failure',
    );
  });
});
