import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyLog } from '../../src/log/file/index.js';
import { tempDir } from '../log/helpers.js';
import { assertExactlyOnce, messageIdsInLog, postBatch, retryingClient, startCollector, testSource } from './backpressure-helpers.js';

const SOURCE = testSource('src_tmpfs');
const PAD = 2000;

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * A real disk that fills up: the data directory on a 4 MiB tmpfs, nearly filled by another file.
 * Ingest goes on until the log's writes fail with ENOSPC: from then on the collector answers 503
 * WEIR_LOG_DISK_FULL with Retry-After and stays up; once the other file is deleted it accepts
 * again, and every acknowledged event is in the log exactly once (also after a restart).
 */
test('disk full on a real tmpfs: 503 while full, accepted again once space returns, nothing lost', { timeout: 60_000 }, async (ctx) => {
  if (process.getuid?.() !== 0) return ctx.skip('SKIP tmpfs: mounting a tmpfs needs root');
  const tmp = await tempDir('tmpfs');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', tmp.dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    await tmp.cleanup();
    return ctx.skip(`SKIP tmpfs: mount -t tmpfs was refused (${(mounted.stderr || mounted.error?.message || '').trim()})`);
  }
  let collector: Awaited<ReturnType<typeof startCollector>> | undefined;
  try {
    collector = await startCollector({ dir: tmp.dir, sources: [SOURCE], env: { WEIR_LOG_SEGMENT_BYTES: String(256 * 1024) } });
    const filler = join(tmp.dir, 'filler');
    await writeFile(filler, Buffer.alloc((await freeBytes(tmp.dir)) - 200 * 1024));

    const acked: string[] = [];
    let full = 0;
    for (let b = 0; full < 5; b++) {
      assert.ok(b < 1000, 'the disk never filled');
      const ids = Array.from({ length: 10 }, (_, i) => `t-${b}-${i}`);
      const answer = await postBatch(collector.app, SOURCE.writeKey, ids, PAD);
      if (answer.status === 200) {
        assert.equal(full, 0, 'accepted after a disk-full refusal while the disk is still full');
        acked.push(...ids);
        continue;
      }
      assert.deepEqual(answer, { status: 503, code: 'WEIR_LOG_DISK_FULL', retryAfter: '5' });
      full++;
    }
    assert.ok(acked.length >= 50, `${acked.length} events accepted before the disk filled`);
    assert.equal((await collector.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal(collector.writer.state, 'open');

    await rm(filler);
    const after = await retryingClient(collector.app, SOURCE.writeKey, 'freed', 20);
    assert.deepEqual(after.refusals, [], 'accepted at once when space is back');
    await collector.close();

    const logDir = join(tmp.dir, 'log');
    assertExactlyOnce([...acked, ...after.acked], await messageIdsInLog(logDir));
    assert.ok((await verifyLog(logDir)).ok);
    collector = await startCollector({ dir: tmp.dir, sources: [SOURCE] });
    const again = await retryingClient(collector.app, SOURCE.writeKey, 'restarted', 2);
    await collector.close();
    assertExactlyOnce([...acked, ...after.acked, ...again.acked], await messageIdsInLog(logDir));
  } finally {
    await collector?.close().catch(() => undefined);
    spawnSync('umount', ['--lazy', tmp.dir]);
    await tmp.cleanup();
  }
});
