import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { BenchReport } from './report.js';
import { BENCHES, BENCH_DIR, runBench } from './runner.js';

const scratch = mkdtempSync(join(tmpdir(), 'weir-bench-runner-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const spec = (name: string) => BENCHES.find((b) => b.name === name)!;

describe('npm run bench', () => {
  it('reports a bench whose script is missing as not run, naming it', async () => {
    const r = await runBench(spec('realtime'), 'quick', scratch);
    assert.deepEqual(r, { name: 'realtime', reason: 'bench/realtime.ts (pings/s and ping-to-screen (SSE) latency) is not on this branch yet' });
  });

  it('reports a failing bench as not run with its last line of stderr', async () => {
    writeFileSync(join(scratch, 'boom.js'), "process.stderr.write('[bench:boom] starting\\nbench:boom needs wrk: apt-get install wrk\\n'); process.exit(2);\n");
    const r = await runBench({ name: 'boom', what: 'a failing bench', env: { quick: {}, full: {} } }, 'quick', scratch);
    assert.deepEqual(r, { name: 'boom', reason: 'it exited with code 2: bench:boom needs wrk: apt-get install wrk' });
  });

  it('runs a real bench and returns its JSON report with the machine facts', async () => {
    const r = (await runBench(spec('pipeline'), 'quick')) as BenchReport;
    assert.equal(r.name, 'pipeline');
    assert.equal(typeof r.machine, 'object');
    assert.ok(typeof r.machine === 'object' && r.machine.cores >= 1 && r.machine.node === process.version && /^\d+\.\d\d, /.test(r.machine.load));
    assert.equal(r.figures.length, 8);
    for (const f of r.figures) assert.ok(f.value > 0 && f.unit === 'µs', JSON.stringify(f));
    assert.match(r.notes?.join(' ') ?? '', /5000 iterations/);
  });

  it('writes the generated section into the page and keeps what is outside the markers', () => {
    const out = join(scratch, 'BENCHMARKS.md');
    writeFileSync(out, '# Benchmarks\n\nIntro.\n\n## History\n\nold figures\n');
    const r = spawnSync(process.execPath, [join(BENCH_DIR, 'all.js'), '--only', 'pipeline', '--size', 'quick', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^pipeline: 8 figures, targets met 0 of 0/m);
    const page = readFileSync(out, 'utf8');
    assert.match(page, /^# Benchmarks\n\nIntro\.\n\n<!-- bench:begin -->/);
    assert.match(page, /<!-- bench:end -->\n\n## History\n\nold figures\n$/);
    assert.match(page, /- Size: quick \(`npm run bench -- --size quick`\), \d+ s\./);
    assert.match(page, /\| whole pipeline \(decode → records\), per request of 20 events \| [\d.,]+ µs \|/);
  });

  it('refuses bad options with exit code 2, naming the option and the value', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [join(BENCH_DIR, 'all.js'), ...args, '--out', join(scratch, 'never.md')], { encoding: 'utf8' });
    const size = run('--size', 'medium');
    assert.equal(size.status, 2);
    assert.match(size.stderr, /--size must be quick or full, not "medium"/);
    const only = run('--only', 'ingest,nope');
    assert.equal(only.status, 2);
    assert.match(only.stderr, /--only: no bench named "nope"/);
    const unknown = run('--fast');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /'--fast'/);
  });
});
