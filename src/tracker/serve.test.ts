import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeirError } from '../errors/catalogue.js';
import { loadTracker, TRACKER_FILE, trackerEtag, trackerScript, trackerSnippet } from './serve.js';

describe('serving the tracker', () => {
  it('trackerScript is the built dist/public/weir.js, read once; the ETag is its quoted SHA-256', () => {
    const onDisk = readFileSync(TRACKER_FILE);
    assert.ok(TRACKER_FILE.endsWith(join('dist', 'public', 'weir.js')), TRACKER_FILE);
    assert.deepEqual(trackerScript(), onDisk);
    assert.equal(trackerScript(), trackerScript());
    const digest = createHash('sha256').update(onDisk).digest('base64url');
    assert.equal(trackerEtag(), `"${digest.slice(0, 27)}"`);
  });

  it('a different script has a different ETag; a missing one is WEIR_TRACKER_NOT_BUILT', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-tracker-'));
    try {
      const file = join(dir, 'weir.js');
      writeFileSync(file, 'one');
      const first = loadTracker(file).etag;
      writeFileSync(file, 'two');
      assert.notEqual(loadTracker(file).etag, first);
      assert.throws(
        () => loadTracker(join(dir, 'missing.js')),
        (err: unknown) => err instanceof WeirError && err.code === 'WEIR_TRACKER_NOT_BUILT' && err.message.includes('ENOENT'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trackerSnippet', () => {
  it('points at /weir.js on the origin of the host, https when no scheme is given', () => {
    assert.equal(
      trackerSnippet({ host: 'weir.example.com', writeKey: 'wk_1' }),
      '<script defer src="https://weir.example.com/weir.js" data-write-key="wk_1"></script>',
    );
    assert.equal(
      trackerSnippet({ host: 'http://localhost:8080/ignored/path', writeKey: 'wk_1', cookieless: true, respectDnt: true }),
      '<script defer src="http://localhost:8080/weir.js" data-write-key="wk_1" data-cookieless data-respect-dnt></script>',
    );
  });

  it('escapes the write key inside the attribute', () => {
    assert.equal(
      trackerSnippet({ host: 'https://w.example', writeKey: '"><img src=x onerror=alert(1)>&' }),
      '<script defer src="https://w.example/weir.js" data-write-key="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&amp;"></script>',
    );
  });
});
