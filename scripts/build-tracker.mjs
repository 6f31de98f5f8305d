#!/usr/bin/env node
// Builds the browser tracker tracker/src/weir.ts into one minified IIFE, dist/public/weir.js,
// after type-checking it against the DOM library (the root tsconfig has Node types only).
// Fails when the gzipped script is over the budget: every visitor of every site downloads it.
// Usage: node scripts/build-tracker.mjs
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BUDGET_GZIP_BYTES = 2048;
const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/public/weir.js`;
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));

function fail(message) {
  rmSync(out, { force: true });
  console.error(`build-tracker: ${message}`);
  process.exit(1);
}

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const checked = spawnSync(process.execPath, [tsc, '-p', `${root}tracker/tsconfig.json`], { stdio: 'inherit' });
if (checked.status !== 0) fail('tracker/src does not type-check');

const result = await build({
  entryPoints: [`${root}tracker/src/weir.ts`],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  legalComments: 'none',
  define: { __WEIR_VERSION__: JSON.stringify(version) },
  write: false,
  logLevel: 'warning',
}).catch((err) => fail(err.message));

const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
const sizes = `${code.length} bytes raw, ${gzipped} bytes gzipped (budget ${BUDGET_GZIP_BYTES})`;
if (gzipped > BUDGET_GZIP_BYTES) fail(`weir.js is over its size budget: ${sizes}`);
mkdirSync(`${root}dist/public`, { recursive: true });
writeFileSync(out, code);
console.log(`build-tracker: dist/public/weir.js ${sizes}`);
