/**
 * Names every EventLog adapter accepts: partitions and consumer groups. Groups become file names
 * (file log) and subject tokens (NATS), so they are kept to an alphabet both can hold.
 *
 * @example
 * ```ts
 * assertGroup('warehouse');
 * assertPartition(3);
 * ```
 */
import { WeirError } from '../errors/catalogue.js';

const GROUP_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export function assertPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0 || partition > 999_999_999) {
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `log partition must be an integer from 0, got ${partition}` });
  }
}

export function assertGroup(group: string): void {
  if (!GROUP_RE.test(group)) {
    throw new WeirError('WEIR_CONFIG_INVALID', {
      detail: `consumer group "${group}" must be 1-128 letters, digits, ".", "_" or "-", not starting with "."`,
    });
  }
}
