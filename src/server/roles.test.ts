import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WeirError } from '../errors/catalogue.js';
import { openFileEventLog } from '../log/file/index.js';
import { quiet, tempDir } from '../../test/log/helpers.js';
import { createLogger } from '../observability/logger.js';
import { claimPartition } from './claim-partition.js';
import { parseWorkerRoles } from './roles.js';

describe('worker roles', () => {
  it('parses a comma-separated list', () => {
    assert.deepEqual([...parseWorkerRoles('loader, realtime')], ['loader', 'realtime']);
  });

  it('refuses unknown or empty lists with the option and the value', () => {
    for (const bad of ['', 'loader,bogus', ' , ']) {
      assert.throws(
        () => parseWorkerRoles(bad),
        (err) => err instanceof WeirError && err.code === 'WEIR_CLI_INVALID_OPTION' && err.message.includes('--roles') && err.message.includes(JSON.stringify(bad)),
      );
    }
  });
});

describe('claimPartition', () => {
  it('takes the lowest partition free in every log, skipping one held in either', async () => {
    const tmp = await tempDir('claim');
    const logger = createLogger('error');
    try {
      const open = () => Promise.all([openFileEventLog({ dir: `${tmp.dir}/events`, logger: quiet }), openFileEventLog({ dir: `${tmp.dir}/failed`, logger: quiet })]);
      const [eventsA, failedA] = await open();
      const [eventsB, failedB] = await open();
      const first = await claimPartition([eventsA, failedA], 4, logger);
      assert.equal(first.partition, 0);
      // Partition 1 is free for events but held in the failed log (a writer that has not let go).
      const stray = await failedA.openWriter(1);
      const second = await claimPartition([eventsB, failedB], 4, logger);
      assert.equal(second.partition, 2);
      // The events writer of partition 1 taken during the try was let go again.
      const again = await eventsB.openWriter(1);
      await again.close();
      await assert.rejects(claimPartition([eventsB, failedB], 3, logger), (err) => err instanceof WeirError && err.code === 'WEIR_LOG_LOCKED');
      for (const w of [...first.writers, ...second.writers, stray]) await w.close();
      for (const l of [eventsA, failedA, eventsB, failedB]) await l.close();
    } finally {
      await tmp.cleanup();
    }
  });
});
