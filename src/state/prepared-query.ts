/**
 * Kysely queries compiled once and run many times with new values.
 *
 * Kysely builds and compiles a query's operation tree on every call: for the pipeline store's
 * claim (a join, a correlated count and a RETURNING list) that cost more than SQLite took to run
 * it. A prepared query is written with the same typed builder, with named placeholders where the
 * values go; it is compiled on first use (per database, so per dialect) and afterwards only its
 * parameter list is rebuilt. Placeholders are marker strings, so they travel through the builder
 * as ordinary values and are found again by position in the compiled parameters.
 */
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';

const MARK = '\u0000weir-param:';

/** How the builder names a value supplied at run time; typed as the value itself. */
export type Param<A> = <K extends keyof A & string>(name: K) => A[K];

/**
 * A query of `db`, compiled on first use; run it on `db` or on any transaction of it.
 *
 * @example
 * ```ts
 * const renew = new PreparedQuery(db, (db, p: Param<{ worker: string; until: string }>) =>
 *   db.updateTable('pipeline_tasks').set({ lease_expires_at: p('until') }).where('lease_owner', '=', p('worker')),
 * );
 * await renew.execute(trx, { worker: 'w1', until: new Date().toISOString() });
 * ```
 */
export class PreparedQuery<DB, A, R> {
  #compiled: { sql: string; parameters: readonly unknown[]; slots: Array<string | undefined> } | undefined;

  constructor(
    private readonly db: Kysely<DB>,
    private readonly build: (db: Kysely<DB>, p: Param<A>) => Compilable<R>,
  ) {}

  execute(executor: Kysely<DB>, args: A): Promise<QueryResult<R>> {
    if (!this.#compiled) {
      const query = this.build(this.db, (name) => `${MARK}${name}` as never).compile();
      const slots = query.parameters.map((v) => (typeof v === 'string' && v.startsWith(MARK) ? v.slice(MARK.length) : undefined));
      this.#compiled = { sql: query.sql, parameters: query.parameters, slots };
    }
    const { sql, parameters, slots } = this.#compiled;
    const values = parameters.map((v, i) => {
      const name = slots[i];
      return name === undefined ? v : (args as Record<string, unknown>)[name];
    });
    return executor.executeQuery(CompiledQuery.raw(sql, values) as CompiledQuery<R>);
  }
}
