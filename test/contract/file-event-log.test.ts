import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from '../../src/log/event-log.js';
import { openFileEventLog } from '../../src/log/file/index.js';
import { eventLogContract } from './event-log.contract.js';

const quiet = { warn: () => undefined, error: () => undefined };

eventLogContract('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weir-log-contract-'));
  const opened: EventLog[] = [];
  const open = async (): Promise<EventLog> => {
    // Small segments so that appends roll and retention has segments to delete.
    const log = await openFileEventLog({ dir, segmentBytes: 4096, logger: quiet });
    opened.push(log);
    return log;
  };
  const log = await open();
  return {
    log,
    reopen: open,
    async cleanup() {
      for (const l of opened) await l.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
