import { WeirError } from '../errors/catalogue.js';
import { unconsumedBytes } from '../log/backlog.js';
import type { EventLog } from '../log/event-log.js';

/** Seconds a refused client is asked to wait: a sink catching up takes a while. */
export const BACKLOG_RETRY_AFTER_SECONDS = 5;

/** What `/readyz` reports about the backlog. */
export interface BacklogStatus {
  /** Bytes not yet read by every sink, at the last measurement. */
  bytes: number;
  budgetBytes: number;
  full: boolean;
}

/**
 * Refuses ingest while the event log holds more unconsumed bytes than `log.backlogBudgetBytes`,
 * so a sink that is down for a long stretch makes the collector answer 503 with Retry-After
 * (`WEIR_INGEST_BACKLOG_FULL`) instead of filling the disk. Ingest resumes by itself once the
 * sinks catch up and commit.
 *
 * The measurement is read from the log files every `refresh()` (the collector does it every
 * second), never per request: the check on the hot path is one boolean. So the budget can be
 * overrun by what the server accepts between two refreshes. Every collector process measures the
 * whole log (all partitions, both streams), so they all reach the same verdict.
 *
 * @example
 * ```ts
 * const gate = new BacklogGate([eventsLog, failedLog], config.log.backlogBudgetBytes);
 * setInterval(() => void gate.refresh(), 1000);
 * gate.check(); // throws WEIR_INGEST_BACKLOG_FULL while over the budget
 * ```
 */
export class BacklogGate {
  #bytes = 0;
  #full = false;

  constructor(
    private readonly logs: ReadonlyArray<Pick<EventLog, 'stats' | 'groups'>>,
    /** 0: no budget. */
    private readonly budgetBytes: number,
  ) {}

  async refresh(): Promise<BacklogStatus> {
    if (this.budgetBytes > 0) {
      let bytes = 0;
      for (const log of this.logs) bytes += await unconsumedBytes(log);
      this.#bytes = bytes;
      this.#full = bytes > this.budgetBytes;
    }
    return this.status();
  }

  /**
   * Counts bytes this process has just appended, so the gate closes as soon as they push the
   * backlog over the budget instead of at the next measurement: without it a fast collector
   * overshoots by a second of ingest. The next {@link refresh} replaces the estimate.
   */
  added(bytes: number): void {
    if (this.budgetBytes <= 0) return;
    this.#bytes += bytes;
    if (this.#bytes > this.budgetBytes) this.#full = true;
  }

  check(): void {
    if (this.#full) {
      throw new WeirError('WEIR_INGEST_BACKLOG_FULL', { bytes: this.#bytes, budget: this.budgetBytes, retryAfter: BACKLOG_RETRY_AFTER_SECONDS });
    }
  }

  status(): BacklogStatus {
    return { bytes: this.#bytes, budgetBytes: this.budgetBytes, full: this.#full };
  }
}
