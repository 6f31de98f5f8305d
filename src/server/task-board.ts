import { randomUUID } from 'node:crypto';
import { WeirError } from '../errors/catalogue.js';
import type { Progress } from '../lake/lake-tasks.js';

/** What a client sees of a long operation run by the server. */
export interface TaskStatus {
  id: string;
  kind: string;
  state: 'running' | 'done' | 'failed';
  progress?: Progress;
  result?: unknown;
  error?: { code: string; message: string };
  startedAt: string;
  endedAt?: string;
}

/**
 * Long operations (lake replay, import) started through the API run in the background here and
 * are followed by polling, so no HTTP request has to stay open for minutes and the CLI can draw
 * the same progress bar as when it runs the operation itself. Finished tasks are kept for an
 * hour.
 *
 * @example
 * ```ts
 * const id = board.start('import', (progress) => loadUpload(req, progress));
 * board.get(id); // { state: 'running', progress: { done: 5000, total: 20000, unit: 'rows' }, … }
 * ```
 */
export class TaskBoard {
  readonly #tasks = new Map<string, TaskStatus>();

  start(kind: string, run: (progress: (p: Progress) => void) => Promise<unknown>): string {
    this.#prune();
    const task: TaskStatus = { id: randomUUID(), kind, state: 'running', startedAt: new Date().toISOString() };
    this.#tasks.set(task.id, task);
    run((p) => (task.progress = p)).then(
      (result) => Object.assign(task, { state: 'done', result, endedAt: new Date().toISOString() }),
      (err: unknown) =>
        Object.assign(task, {
          state: 'failed',
          endedAt: new Date().toISOString(),
          error: err instanceof WeirError ? err.toJSON() : { code: 'WEIR_SERVER_INTERNAL_ERROR', message: String((err as Error)?.message ?? err) },
        }),
    );
    return task.id;
  }

  get(id: string): TaskStatus {
    const t = this.#tasks.get(id);
    if (!t) throw new WeirError('WEIR_TASK_NOT_FOUND', { id });
    return t;
  }

  #prune(): void {
    const cutoff = Date.now() - 3_600_000;
    for (const [id, t] of this.#tasks) if (t.endedAt !== undefined && Date.parse(t.endedAt) < cutoff) this.#tasks.delete(id);
  }
}
