import { WeirError } from '../errors/catalogue.js';
import type { EventLog } from '../log/event-log.js';
import { RecoveringWriter } from '../log/recovering-writer.js';
import type { Logger } from '../observability/logger.js';

const locked = (err: unknown) => err instanceof WeirError && err.code === 'WEIR_LOG_LOCKED';

/**
 * Takes the lowest partition whose writers no live process holds, in every log given (events and
 * failed take the same number): the file log's lock or JetStream's writer lease says who holds
 * one. A partition free in one log but held in another (its old holder's lease not yet expired)
 * is let go again. Collectors on several hosts, and `weir ui` replaying failed events, write to
 * the shared NATS log this way without being told their partition.
 *
 * @example
 * ```ts
 * const { partition, writers: [events, failed] } = await claimPartition([log, failedLog], 64, logger);
 * ```
 */
export async function claimPartition(
  logs: readonly EventLog[],
  maxPartitions: number,
  logger: Logger,
): Promise<{ partition: number; writers: RecoveringWriter[] }> {
  for (let partition = 0; partition < maxPartitions; partition++) {
    const writers: RecoveringWriter[] = [];
    try {
      for (const log of logs) writers.push(await RecoveringWriter.open(log, partition, { logger }));
      logger.info({ partition }, 'claimed log partition');
      return { partition, writers };
    } catch (err) {
      for (const w of writers) await w.close();
      if (!locked(err)) throw err;
    }
  }
  throw new WeirError('WEIR_LOG_LOCKED', { partition: `0–${maxPartitions - 1}`, pid: 'other processes (every partition up to log.maxPartitions has a live writer; raise it)' });
}
