import { describe, it } from 'node:test';
import type { EventLog } from '../../src/log/event-log.js';
import { openNatsEventLog } from '../../src/log/nats/index.js';
import { eventLogContract } from './event-log.contract.js';
import { deleteStreams, NATS_URL, natsUnreachable, uniqueStream } from '../helpers/nats.js';
import { requireOrSkip } from '../helpers/pipeline-fixtures.js';

const quiet = { warn: () => undefined };
const skip = await natsUnreachable();

if (skip === undefined) {
  eventLogContract('nats', async () => {
    const stream = uniqueStream('WEIRLOG');
    const opened: EventLog[] = [];
    const open = async (): Promise<EventLog> => {
      const log = await openNatsEventLog({ servers: [NATS_URL], stream, subjectPrefix: stream.toLowerCase(), logger: quiet });
      opened.push(log);
      return log;
    };
    const log = await open();
    return {
      log,
      reopen: open,
      async cleanup() {
        for (const l of opened) await l.close();
        await deleteStreams(stream);
      },
    };
  });
} else {
  describe('EventLog contract: nats', () => {
    it('needs NATS', (t) => {
      requireOrSkip('NATS', { skip }, (reason) => t.skip(reason));
    });
  });
}
