/**
 * Committed offsets of consumer groups, one subject per (group, partition) in a stream that keeps
 * only the last message of each subject: a tiny key-value store on JetStream, replicated like the
 * log itself. (JetStream KV is the same construction; its client package is not needed for it.)
 *
 * @example
 * ```ts
 * const offsets = new OffsetStore(jetStream, names);
 * await offsets.ensure(1);
 * await offsets.write('warehouse', 0, 120);
 * await offsets.read('warehouse', 0); // 120
 * ```
 */
import { ensureStream, JS_WRONG_LAST_SEQUENCE, apiCode, lastBySubject, type JetStream } from './jetstream.js';
import type { NatsNames } from './names.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function parseOffset(data: Uint8Array): number {
  const n = Number(decoder.decode(data));
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`committed offset record holds ${JSON.stringify(decoder.decode(data))}`);
  return n;
}

export class OffsetStore {
  constructor(
    private readonly jet: JetStream,
    private readonly names: NatsNames,
    private readonly publishTimeoutMs: number,
  ) {}

  ensure(replicas: number): Promise<void> {
    return ensureStream(
      this.jet,
      { name: this.names.offsetsStream, subjects: [this.names.offsetsSubjects], max_msgs_per_subject: 1 },
      { replicas },
    );
  }

  async read(group: string, partition: number): Promise<number | undefined> {
    const last = await lastBySubject(this.jet, this.names.offsetsStream, this.names.offsetSubject(group, partition));
    return last === undefined ? undefined : parseOffset(last.data);
  }

  /** Resolves once JetStream stored the offset. */
  async write(group: string, partition: number, offset: number): Promise<void> {
    await this.jet.js.publish(this.names.offsetSubject(group, partition), encoder.encode(String(offset)), { timeout: this.publishTimeoutMs });
  }

  /**
   * Registers `offset` unless the group already has one there, and returns the one that holds:
   * two members of a new group starting at once agree on one starting point.
   */
  async register(group: string, partition: number, offset: number): Promise<number> {
    try {
      await this.jet.js.publish(this.names.offsetSubject(group, partition), encoder.encode(String(offset)), {
        timeout: this.publishTimeoutMs,
        expect: { lastSubjectSequence: 0 },
      });
      return offset;
    } catch (err) {
      if (apiCode(err) !== JS_WRONG_LAST_SEQUENCE) throw err;
      return (await this.read(group, partition)) ?? offset;
    }
  }

  /** Every group's committed offsets by partition. */
  async all(): Promise<Map<string, Map<number, number>>> {
    const out = new Map<string, Map<number, number>>();
    const info = await this.jet.jsm.streams.info(this.names.offsetsStream, { subjects_filter: this.names.offsetsSubjects });
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const key = this.names.parseOffsetSubject(subject);
      if (key === undefined) continue;
      const last = await lastBySubject(this.jet, this.names.offsetsStream, subject);
      if (last === undefined) continue;
      let perPartition = out.get(key.group);
      if (!perPartition) out.set(key.group, (perPartition = new Map()));
      perPartition.set(key.partition, parseOffset(last.data));
    }
    return out;
  }
}
