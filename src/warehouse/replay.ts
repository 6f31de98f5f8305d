import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventLog } from '../log/event-log.js';
import { decodeLogRecord } from '../events/log-record.js';

/**
 * A replay request: the positions (next offset per partition) a sink's consumer group restarts
 * from. It is a file beside the log rather than a direct offset reset because a running loader
 * holds its position in memory and would commit over a reset; the loader picks the request up
 * between batches instead, whichever process it runs in, and a loader that is not running picks
 * it up when it starts.
 */
export interface ReplayRequest {
  sink: string;
  positions: Record<string, number>;
  requestedAt: string;
}

function requestPath(logDir: string, sink: string): string {
  return join(logDir, `replay-${sink}.json`);
}

/** Writes a replay request atomically (temp file + rename). */
export function requestReplay(logDir: string, sink: string, positions: Map<number, number>): ReplayRequest {
  const request: ReplayRequest = { sink, positions: Object.fromEntries(positions), requestedAt: new Date().toISOString() };
  const path = requestPath(logDir, sink);
  writeFileSync(`${path}.tmp`, JSON.stringify(request));
  renameSync(`${path}.tmp`, path);
  return request;
}

/** True while a replay request waits for its loader to take it. */
export function replayPending(logDir: string, sink: string): boolean {
  return existsSync(requestPath(logDir, sink));
}

/** Takes the pending replay request of a sink, if any (removing it). */
export function takeReplayRequest(logDir: string, sink: string): Map<number, number> | undefined {
  const path = requestPath(logDir, sink);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  rmSync(path, { force: true });
  const request = JSON.parse(text) as ReplayRequest;
  return new Map(Object.entries(request.positions).map(([p, o]) => [Number(p), o]));
}

/**
 * Per partition, the first offset whose event was received at or after `since` (or the next
 * offset when none was). Reads the log from its start: there is no time index yet, so this is
 * linear in the size of the log.
 *
 * @example
 * ```ts
 * await positionsSince(log, new Date('2026-11-01T00:00:00Z')); // Map { 0 => 1200, 1 => 1187 }
 * ```
 */
export async function positionsSince(log: EventLog, since: Date): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const s of await log.stats()) out.set(s.partition, s.nextOffset);
  const consumer = await log.consumer(`replay-scan-${process.pid}`, { start: 'earliest', ephemeral: true });
  const pending = new Set(out.keys());
  try {
    while (pending.size > 0) {
      const records = await consumer.poll({ maxRecords: 10_000, maxWaitMs: 0 });
      if (records.length === 0) break;
      for (const r of records) {
        if (!pending.has(r.partition)) continue;
        const d = decodeLogRecord(r.value);
        const at = d.kind === 'event' ? Date.parse(String(d.event.receivedAt)) : NaN;
        if (at >= since.getTime()) {
          out.set(r.partition, r.offset);
          pending.delete(r.partition);
        }
      }
    }
  } finally {
    await consumer.close();
  }
  return out;
}

/** Per partition, the first retained offset (`earliest`) or the given offset. */
export async function positionsFrom(log: EventLog, from: 'earliest' | number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const s of await log.stats()) out.set(s.partition, from === 'earliest' ? s.firstOffset : Math.min(Math.max(from, s.firstOffset), s.nextOffset));
  return out;
}
