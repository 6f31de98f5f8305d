/**
 * The embedded file adapter of the EventLog port: per partition a directory of CRC-framed,
 * append-only segment files written with group-commit fdatasync.
 *
 * @example
 * ```ts
 * import { openFileEventLog, verifyLog } from './log/file/index.js';
 * const log = await openFileEventLog({ dir: '.weir/log' });
 * const report = await verifyLog('.weir/log');
 * ```
 */
export { openFileEventLog, DEFAULT_SEGMENT_BYTES, type FileEventLogOptions } from './file-event-log.js';
export type { CorruptionInfo, LogLogger } from './corruption.js';
export { verifyLog, type VerifyReport, type PartitionVerifyReport, type VerifyRegion } from './verify.js';
