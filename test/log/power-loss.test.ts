import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileEventLog } from '../../src/log/file/index.js';
import { verifyLog } from '../../src/log/file/verify.js';
import { PowerLossFileLayer } from '../helpers/power-loss-file-layer.js';

const ROUNDS = Number(process.env.WEIR_POWER_LOSS_ROUNDS ?? 30);
// Set to 1 to watch the test fail: with fsync skipped, acknowledged records must be lost.
const SKIP_SYNC = process.env.WEIR_POWER_LOSS_SKIP_SYNC === '1';

async function readAll(dir: string): Promise<Set<string>> {
  const log = await openFileEventLog({ dir });
  // Opening the writer runs recovery on what "survived".
  const writer = await log.openWriter(0);
  const consumer = await log.consumer('check', { ephemeral: true });
  const ids = new Set<string>();
  for (;;) {
    const records = await consumer.poll({ maxRecords: 10_000 });
    if (records.length === 0) break;
    for (const r of records) ids.add(r.value.toString());
  }
  await consumer.close();
  await writer.close();
  await log.close();
  return ids;
}

test(`simulated power loss at ${ROUNDS} random moments under concurrent appends: no acknowledged record is lost`, { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-power-loss-'));
  const acked = new Set<string>();
  let crashesWithWork = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const layer = new PowerLossFileLayer({ skipSync: SKIP_SYNC });
      // Small segments, so crashes also land around segment rolls and their directory syncs.
      const log = await openFileEventLog({ dir, fileLayer: layer, segmentBytes: 16 * 1024, logger: { warn() {}, error() {} } });
      const writer = await log.openWriter(0);
      let stop = false;
      let inFlight = 0;
      const appender = async (a: number) => {
        for (let n = 0; !stop; n++) {
          const ids = Array.from({ length: 1 + (n % 5) }, (_, i) => `r${round}-a${a}-${n}-${i}-${'x'.repeat(50 + ((n * 37) % 400))}`);
          inFlight++;
          try {
            await writer.append(ids.map((id) => Buffer.from(id)));
            if (!stop) for (const id of ids) acked.add(id);
          } catch {
            // not acknowledged
          } finally {
            inFlight--;
          }
        }
      };
      const appenders = Array.from({ length: 8 }, (_, a) => appender(a));
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 40));
      if (inFlight > 0) crashesWithWork++;
      // Power goes: what is acknowledged from here on never was.
      stop = true;
      layer.crash();
      await Promise.all(appenders);
      await writer.close().catch(() => {});
      await log.close().catch(() => {});

      const survived = await readAll(dir);
      const lost = [...acked].filter((id) => !survived.has(id));
      assert.equal(lost.length, 0, `round ${round}: ${lost.length} of ${acked.size} acknowledged records lost, e.g. ${lost[0]?.slice(0, 30)}`);
      const report = await verifyLog(dir);
      assert.ok(report.ok, `round ${round}: log verify: ${JSON.stringify(report.partitions[0])}`);
    }
    assert.ok(crashesWithWork > ROUNDS / 2, 'most crashes hit appends in flight');
    assert.ok(acked.size > ROUNDS * 20, `load was applied (${acked.size} acknowledged)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
