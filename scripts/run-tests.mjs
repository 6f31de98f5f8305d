#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with node's own test runner.
// Node 20's `--test` takes no globs, so the file list is gathered here.
// Usage: node scripts/run-tests.mjs [--reliability | substring filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// The reliability suite (test/reliability/) runs after the rest, one file at a time: its kill
// loop and soak measure restart and ack latency, which other tests running beside them would
// distort. `--reliability` runs only that suite; filters run whatever file they match.
const RELIABILITY = `dist${sep}test${sep}reliability${sep}`;
const args = process.argv.slice(2);
const onlyReliability = args.includes('--reliability');
const filters = args.filter((a) => a !== '--reliability');
const all = walk('dist', []).sort();
const phases =
  filters.length > 0
    ? [{ files: all.filter((f) => filters.some((s) => f.includes(s))), concurrency: process.env.WEIR_TEST_CONCURRENCY ?? '2' }]
    : [
        ...(onlyReliability ? [] : [{ files: all.filter((f) => !f.startsWith(RELIABILITY)), concurrency: process.env.WEIR_TEST_CONCURRENCY ?? '2' }]),
        { files: all.filter((f) => f.startsWith(RELIABILITY)), concurrency: '1' },
      ];
if (phases.every((p) => p.files.length === 0)) {
  console.error(`no test files matched ${filters.join(' ')}`);
  process.exit(1);
}
let status = 0;
for (const { files, concurrency } of phases) {
  if (files.length === 0) continue;
  // A test that hangs (a server that never answers, a child that never exits) fails after 15
  // minutes with its name, instead of holding CI until its hard limit.
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=900000', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=./scripts/summary-reporter.mjs', '--test-reporter-destination=stdout', ...files], {
    stdio: 'inherit',
  });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
