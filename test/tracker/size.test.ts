import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { TRACKER_FILE } from '../../src/tracker/serve.js';

it('the built weir.js is at most 2048 bytes gzipped and names no URL of its own', (ctx) => {
  const script = readFileSync(TRACKER_FILE);
  const gzipped = gzipSync(script, { level: 9 }).length;
  ctx.diagnostic(`weir.js: ${script.length} bytes raw, ${gzipped} bytes gzipped`);
  assert.ok(gzipped <= 2048, `weir.js is ${gzipped} bytes gzipped, over the 2048-byte budget`);
  // Every request goes to the origin the script came from: no host is written into it.
  assert.doesNotMatch(script.toString('utf8'), /:\/\//);
});
