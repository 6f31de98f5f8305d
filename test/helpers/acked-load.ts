import { basic } from './weir-process.js';

export interface AckedLoadOptions {
  /** Base URL of the collector, e.g. `http://127.0.0.1:8080`. */
  url: string;
  writeKey: string;
  /** Concurrent senders, each with at most one request in flight. */
  senders: number;
  /** Events per `/v1/batch` request. */
  batchSize: number;
  /** Prefix of every messageId, unique per run. */
  prefix: string;
  /** Events per second across all senders; absent: as fast as the senders go (closed loop). */
  rate?: number;
  /**
   * How often a batch that got no 200 (connection refused or reset, 5xx, 429) is sent again with
   * the same messageIds, as Segment's SDKs do; default 0. Re-sends are what put one event into
   * the log twice, so the warehouse's deduplication has something to do.
   */
  retries?: number;
  /**
   * Every this many acknowledged batches, the batch is sent once more with the same messageIds,
   * as an SDK does when the 200 was lost on the way back: the log then holds those events
   * twice, for certain, and only the warehouse's deduplication keeps them single. Default: never.
   */
  resendAckedEvery?: number;
  /** How long a request may take before it counts as failed (and is re-sent); default 10 s. */
  timeoutMs?: number;
}

/**
 * A load generator that knows exactly which messageIds were acknowledged: an id enters `acked`
 * only when a request carrying it got a 200, which the collector sends after the record is
 * durable. Latency is measured per request from its scheduled start (paced runs), so a stalled
 * server cannot hide its queueing (no coordinated omission).
 *
 * @example
 * ```ts
 * const load = new AckedLoad({ url: server.url, writeKey, senders: 8, batchSize: 10, prefix: 'k1' });
 * load.start();
 * await sleep(1000);
 * await load.stop();
 * console.log(load.acked.size, load.percentile(0.99));
 * ```
 */
export class AckedLoad {
  /** messageIds that got a 200. */
  readonly acked = new Set<string>();
  /** Per-request latency in ms of acknowledged requests, in completion order. */
  readonly latenciesMs: number[] = [];
  /** When each of `latenciesMs` completed, in ms since `start`. */
  readonly completedAtMs: number[] = [];
  /** Count of answers by HTTP status, or by error code for requests that got none. */
  readonly outcomes = new Map<string, number>();
  /** Events sent at least once. */
  sent = 0;
  /** Events acknowledged a second time under `resendAckedEvery`: in the log twice. */
  resentAcked = 0;
  private ackedBatches = 0;
  private stopping = false;
  private running: Promise<void>[] = [];
  private startedAt = 0;
  private slot = 0;
  private batchNo = 0;

  constructor(private readonly opts: AckedLoadOptions) {}

  start(): void {
    this.stopping = false;
    this.startedAt = performance.now();
    this.slot = 0;
    this.running = Array.from({ length: this.opts.senders }, () => this.sender());
  }

  /** Stops sending; resolves once every request in flight has been answered or failed. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  /** Acknowledged events per second since `start`. */
  get ackRate(): number {
    return this.acked.size / ((performance.now() - this.startedAt) / 1000);
  }

  /** The p-th quantile (0..1) of request latency in ms, of requests completed between `fromMs` and `toMs` after `start`. */
  percentile(p: number, fromMs = 0, toMs = Infinity): number {
    const sorted = this.latenciesMs.filter((_, i) => this.completedAtMs[i]! >= fromMs && this.completedAtMs[i]! < toMs).sort((a, b) => a - b);
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  }

  private count(outcome: string): void {
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  private async sender(): Promise<void> {
    const { batchSize, rate, retries = 0 } = this.opts;
    while (!this.stopping) {
      let scheduled = performance.now();
      if (rate !== undefined) {
        // Slots are shared: a sender that is free takes the next one, so the rate holds while
        // some senders wait on slow answers.
        scheduled = this.startedAt + (this.slot++ * batchSize * 1000) / rate;
        const wait = scheduled - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.stopping) return;
      }
      const n = this.batchNo++;
      const ids = Array.from({ length: batchSize }, (_, i) => `${this.opts.prefix}-${n}-${i}`);
      const body = JSON.stringify({ batch: ids.map((id, i) => ({ type: 'track', event: 'Load Test', userId: `u${i % 7}`, messageId: id, properties: { n, i } })) });
      this.sent += ids.length;
      for (let attempt = 0; attempt <= retries && !this.stopping; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
        const status = await this.post(body);
        this.count(status);
        if (status === '200') {
          for (const id of ids) this.acked.add(id);
          this.latenciesMs.push(performance.now() - scheduled);
          this.completedAtMs.push(performance.now() - this.startedAt);
          const every = this.opts.resendAckedEvery;
          if (every !== undefined && ++this.ackedBatches % every === 0 && (await this.post(body)) === '200') this.resentAcked += ids.length;
          break;
        }
      }
    }
  }

  private async post(body: string): Promise<string> {
    try {
      const res = await fetch(`${this.opts.url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(this.opts.writeKey), 'content-type': 'application/json' },
        body,
        // As SDKs do (analytics-node waits 10 s): a connection that got lost in a crash would
        // otherwise wait for undici's 300 s headers timeout.
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer();
      return String(res.status);
    } catch (err) {
      // Refused or reset by a crash, or no answer in time: not acknowledged.
      if ((err as Error).name === 'TimeoutError') return 'timeout';
      const cause = (err as { cause?: { code?: string } }).cause;
      return cause?.code ?? 'network-error';
    }
  }
}
