/**
 * How the port's names map onto JetStream's: one stream per partition, one stream of committed
 * offsets, one stream of writer leases, all named from a base stream name and subject prefix.
 *
 * @example
 * ```ts
 * const names = new NatsNames('WEIR_EVENTS', 'weir.events');
 * names.partitionStream(3); // 'WEIR_EVENTS_P3', subject 'weir.events.p3'
 * ```
 */
import { WeirError } from '../../errors/catalogue.js';

const STREAM_RE = /^[A-Za-z0-9_-]{1,200}$/;
const PREFIX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export class NatsNames {
  readonly #partitionRe: RegExp;

  constructor(
    readonly stream: string,
    readonly subjectPrefix: string,
  ) {
    if (!STREAM_RE.test(stream)) {
      throw new WeirError('WEIR_CONFIG_INVALID', { detail: `log.nats.stream "${stream}" must be 1-200 letters, digits, "_" or "-"` });
    }
    if (!PREFIX_RE.test(subjectPrefix)) {
      throw new WeirError('WEIR_CONFIG_INVALID', {
        detail: `log.nats.subjectPrefix "${subjectPrefix}" must be dot-separated tokens of letters, digits, "_" or "-"`,
      });
    }
    this.#partitionRe = new RegExp(`^${stream}_P(0|[1-9][0-9]*)$`);
  }

  partitionStream(partition: number): string {
    return `${this.stream}_P${partition}`;
  }

  partitionSubject(partition: number): string {
    return `${this.subjectPrefix}.p${partition}`;
  }

  /** The partition a stream name belongs to, or undefined for any other stream. */
  partitionOf(streamName: string): number | undefined {
    const m = this.#partitionRe.exec(streamName);
    return m ? Number(m[1]) : undefined;
  }

  get offsetsStream(): string {
    return `${this.stream}_OFFSETS`;
  }

  get offsetsSubjects(): string {
    return `${this.subjectPrefix}.offsets.>`;
  }

  /** Group names may hold "." (a subject separator): it is escaped so the key stays two tokens. */
  offsetSubject(group: string, partition: number): string {
    return `${this.subjectPrefix}.offsets.${group.replaceAll('.', '%2E')}.${partition}`;
  }

  /** The group and partition of an offset subject. */
  parseOffsetSubject(subject: string): { group: string; partition: number } | undefined {
    const rest = subject.slice(`${this.subjectPrefix}.offsets.`.length).split('.');
    if (rest.length !== 2 || !/^(0|[1-9][0-9]*)$/.test(rest[1]!)) return undefined;
    return { group: rest[0]!.replaceAll('%2E', '.'), partition: Number(rest[1]) };
  }

  get leasesStream(): string {
    return `${this.stream}_WRITERS`;
  }

  get leasesSubjects(): string {
    return `${this.subjectPrefix}.writers.*`;
  }

  leaseSubject(partition: number): string {
    return `${this.subjectPrefix}.writers.p${partition}`;
  }
}
