import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyLog } from '../../src/log/file/index.js';
import { FaultyFileLayer, tempDir } from '../log/helpers.js';
import { assertExactlyOnce, messageIdsInLog, retryingClient, startCollector, testSource, type Answer } from './backpressure-helpers.js';

/**
 * Disk full (ENOSPC on write) and fsync failure (EIO on fdatasync), injected through the log's
 * file layer under a collector serving four concurrent clients that retry what is refused: the
 * collector answers 503 with Retry-After and a stable code, never acknowledges what it could not
 * sync, keeps serving, and afterwards (and after a restart) holds every acknowledged event
 * exactly once.
 */
const SOURCE = testSource('src_disk');

async function underFault(arm: (layer: FaultyFileLayer) => void): Promise<{ refusals: Answer[]; segments: string[] }> {
  const tmp = await tempDir('disk-faults');
  const layer = new FaultyFileLayer();
  // Small segments, so the faults also hit rolls to new segments.
  const collector = await startCollector({ dir: tmp.dir, sources: [SOURCE], fileLayer: layer, env: { WEIR_LOG_SEGMENT_BYTES: '8192' } });
  try {
    let sent = 0;
    const clients = Array.from({ length: 4 }, (_, c) =>
      retryingClient(collector.app, SOURCE.writeKey, `c${c}`, 60, {
        between: async () => {
          // Arm the fault once every client is mid-stream.
          if (++sent === 80) arm(layer);
        },
      }),
    );
    const results = await Promise.all(clients);
    assert.equal(collector.writer.state, 'open', 'the partition takes writes again');
    assert.equal((await collector.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const acked = results.flatMap((r) => r.acked);
    const refusals = results.flatMap((r) => r.refusals);
    await collector.close();

    const logDir = join(tmp.dir, 'log');
    assertExactlyOnce(acked, await messageIdsInLog(logDir));
    const report = await verifyLog(logDir);
    assert.ok(report.ok, JSON.stringify(report));
    // After a restart (a new writer runs recovery on the files as they are), still the same.
    const restarted = await startCollector({ dir: tmp.dir, sources: [SOURCE] });
    const after = await retryingClient(restarted.app, SOURCE.writeKey, 'after-restart', 3);
    await restarted.close();
    assertExactlyOnce([...acked, ...after.acked], await messageIdsInLog(logDir));
    return { refusals, segments: await readdir(join(logDir, '0')) };
  } finally {
    await collector.close().catch(() => undefined);
    await tmp.cleanup();
  }
}

describe('disk faults under load', () => {
  it('ENOSPC on write: 503 WEIR_LOG_DISK_FULL with Retry-After while the disk is full, then accepted again; nothing lost or doubled', async () => {
    const { refusals } = await underFault((layer) => layer.failWritev('ENOSPC', 25));
    assert.ok(refusals.length >= 25, `${refusals.length} refusals`);
    for (const r of refusals) {
      assert.equal(r.status, 503);
      assert.equal(r.code, 'WEIR_LOG_DISK_FULL');
      assert.equal(r.retryAfter, '5');
    }
  });

  it('EIO on fdatasync: 503 while the partition is reopened in-process, the unsynced round is dropped, not doubled by the retries', async () => {
    const { refusals, segments } = await underFault((layer) => layer.failDatasync('EIO', 3));
    assert.ok(refusals.length >= 1);
    for (const r of refusals) {
      assert.equal(r.status, 503);
      assert.ok(r.code === 'WEIR_LOG_FSYNC_FAILED' || r.code === 'WEIR_INGEST_UNAVAILABLE', r.code);
      assert.equal(r.retryAfter, '1');
    }
    assert.ok(refusals.some((r) => r.code === 'WEIR_LOG_FSYNC_FAILED'));
    assert.ok(segments.filter((f) => f.endsWith('.seg')).length >= 2, 'appends moved on to a new segment');
  });
});
