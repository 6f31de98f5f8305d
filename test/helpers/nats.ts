/**
 * The local NATS JetStream for tests: whether it answers, and a unique stream name per use whose
 * streams are deleted afterwards.
 *
 * @example
 * ```ts
 * const skip = await natsUnreachable();
 * const base = uniqueStream('LOGTEST');
 * // ... openNatsEventLog({ servers: [NATS_URL], stream: base, subjectPrefix: base.toLowerCase() })
 * await deleteStreams(base);
 * ```
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export const NATS_URL = '127.0.0.1:4222';

/** Why the local JetStream cannot be used, or undefined when it can. */
export async function natsUnreachable(): Promise<string | undefined> {
  try {
    const nc = await connect({ servers: NATS_URL, timeout: 3000, reconnect: false });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
    } finally {
      await nc.close();
    }
    return undefined;
  } catch (err) {
    return `NATS JetStream at ${NATS_URL} unreachable: ${(err as Error).message}`;
  }
}

export function uniqueStream(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`.toUpperCase();
}

/** Deletes every stream named `<base>_…` (on the local NATS unless `servers` says otherwise). */
export async function deleteStreams(base: string, servers = NATS_URL): Promise<void> {
  const nc = await connect({ servers, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc);
    const doomed: string[] = [];
    for await (const name of jsm.streams.names()) if (name.startsWith(`${base}_`)) doomed.push(name);
    for (const name of doomed) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}
