/**
 * The JetStream calls this adapter makes, in one place: stream creation, message lookups and
 * JetStream API error codes. Vendor types stay inside `log/nats/`.
 *
 * @example
 * ```ts
 * const js = await openJetStream(nc);
 * await ensureStream(js, { name: 'WEIR_EVENTS_P0', subjects: ['weir.events.p0'] }, { replicas: 1 });
 * ```
 */
import {
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** JetStream API error codes the adapter reacts to. */
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_STREAM_NAME_IN_USE = 10058;
export const JS_WRONG_LAST_SEQUENCE = 10071;

export interface JetStream {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

export async function openJetStream(nc: NatsConnection): Promise<JetStream> {
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc) };
}

/** The JetStream API error code of `err`, if it is one. */
export function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/** Milliseconds as the nanoseconds JetStream's configuration counts in. */
export function nanos(ms: number): number {
  return Math.round(ms * 1_000_000);
}

/**
 * Creates a stream unless it exists. An existing stream keeps its configuration (changing
 * replicas of a live stream is an operator's decision, made with the `nats` CLI).
 */
export async function ensureStream(
  { jsm }: JetStream,
  config: Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>,
  options: { replicas: number },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    return;
  } catch (err) {
    if (apiCode(err) !== JS_STREAM_NOT_FOUND && !isStreamNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add({
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: options.replicas,
      ...config,
    });
  } catch (err) {
    // Another process created it between our lookup and our create.
    if (apiCode(err) !== JS_STREAM_NAME_IN_USE) throw err;
    await jsm.streams.info(config.name);
  }
}

export function isStreamNotFound(err: unknown): boolean {
  return apiCode(err) === JS_STREAM_NOT_FOUND || (err instanceof Error && err.name === 'StreamNotFoundError');
}

/** The last message published to `subject` in `stream`, or undefined. */
export async function lastBySubject(
  { jsm }: JetStream,
  stream: string,
  subject: string,
): Promise<{ seq: number; data: Uint8Array } | undefined> {
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  return m === null ? undefined : { seq: m.seq, data: m.data };
}
