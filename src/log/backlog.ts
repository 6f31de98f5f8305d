import type { EventLog } from './event-log.js';

/**
 * Bytes of the log that some registered consumer group has not read and committed yet: what a
 * sink that is down makes the log hold on to (retention keeps a segment until every group has
 * passed it).
 *
 * Per partition, the bytes from the slowest group's committed offset to the durable head,
 * estimated from the partition's retained bytes in proportion to its retained records: the port
 * reports bytes per partition, not per offset, and records of one source are of similar size. A
 * group that has never committed in a partition holds all of it; with no group registered at
 * all, nothing holds data back and the result is 0.
 *
 * @example
 * ```ts
 * const bytes = await unconsumedBytes(log); // e.g. 1_200_000 while the warehouse loader is down
 * ```
 */
export async function unconsumedBytes(log: Pick<EventLog, 'stats' | 'groups'>): Promise<number> {
  const [stats, groups] = await Promise.all([log.stats(), log.groups()]);
  if (groups.size === 0) return 0;
  let total = 0;
  for (const s of stats) {
    const retained = s.nextOffset - s.firstOffset;
    if (retained <= 0 || s.bytes === 0) continue;
    let slowest = s.nextOffset;
    for (const perPartition of groups.values()) slowest = Math.min(slowest, perPartition.get(s.partition) ?? 0);
    const behind = s.nextOffset - Math.max(slowest, s.firstOffset);
    total += Math.round((s.bytes * behind) / retained);
  }
  return total;
}
