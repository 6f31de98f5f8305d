/**
 * The NATS JetStream adapter of the EventLog port: a stream per partition, committed offsets as
 * records, a lease per writer. See `nats-event-log.ts` for how the port maps onto JetStream.
 *
 * @example
 * ```ts
 * import { openNatsEventLog } from './log/nats/index.js';
 * const log = await openNatsEventLog({ servers: ['127.0.0.1:4222'], stream: 'WEIR_EVENTS', subjectPrefix: 'weir.events' });
 * ```
 */
export { openNatsEventLog, type NatsEventLogOptions } from './nats-event-log.js';
