import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './report.js';

const script = fileURLToPath(new URL('queries.js', import.meta.url));

describe('bench:queries', () => {
  it('generates a small warehouse and times all ten queries, cold and warm, with plausible answers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-bench-queries-test-'));
    try {
      const json = join(dir, 'report.json');
      const r = spawnSync(process.execPath, [script, '--json', json], { encoding: 'utf8', env: { ...process.env, BENCH_QUERY_EVENTS: '40000', BENCH_WARM_RUNS: '1' } });
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
      assert.equal(report.figures.length, 1 + 10 * 2);
      assert.match(report.figures[0]!.label, /^0\.04M events: generation/);
      for (const f of report.figures) assert.ok(f.value > 0, JSON.stringify(f));
      // The progress shows each query's first row: 3 of every 8 events are page views, one
      // session is 8 events, and the funnel narrows.
      const first = (name: string) => JSON.parse(new RegExp(`${name}: cold .* first (\\[.*\\])\\)`).exec(r.stderr)![1]!) as number[];
      // (Two sessions of one visitor less than 30 minutes apart count as one.)
      const sessions = first('sessions \\(30-minute gap\\)')[0]!;
      assert.ok(sessions <= 40000 / 8 && sessions > 0.95 * (40000 / 8), String(sessions));
      const [page, product, order] = first('funnel: page → product viewed → order completed');
      assert.ok(page! >= product! && product! > order! && order! > 0, `${page} ${product} ${order}`);
      assert.match(r.stderr, /top pages: cold .* first \["\/p\/0",/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a size that is not a whole number, with exit code 2', () => {
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, BENCH_QUERY_EVENTS: '10M' } });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /BENCH_QUERY_EVENTS must be a list of whole numbers of at least 8, got "10M"/);
  });
});
