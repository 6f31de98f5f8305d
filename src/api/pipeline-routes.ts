/**
 * The pipelines API behind the UI's Pipelines page: the graph of the pipelines folder, runs,
 * a run with its tasks, attempts and check results, an attempt's log, check history, and
 * "run now" / "retry the failed part of a run".
 *
 * Where it reads: the pipeline store itself (the metadata database), not the sinks process over
 * IPC. The store is already the one place runs are shared between processes (workers on several
 * hosts claim tasks through it), SQLite in WAL mode lets readers in collector processes read
 * while the pipeline worker writes, and a collector started as `weir collector` has no sinks
 * process to ask. Creating a run is the same: the API writes the run, and whichever pipeline
 * worker polls the store next claims its tasks, exactly as after `weir pipelines run --detach`.
 *
 * Who may: pipelines belong to the deployment (one folder, one store), so they are treated as
 * the default workspace's: its viewers read, its editors run and retry (an admin token may do
 * both).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WeirError } from '../errors/catalogue.js';
import type { CheckSpec, Model, Project } from '../pipelines/definitions/model.js';
import { loadProject } from '../pipelines/definitions/project.js';
import { manualRun } from '../pipelines/runner/plan.js';
import type { PipelineStore } from '../pipelines/store/pipeline-store.js';
import type { RunKind, RunState } from '../pipelines/store/types.js';
import type { StateStore } from '../state/state-store.js';
import { dateParam, jsonBody, positiveInt } from './admin-routes.js';
import { canSee, requireRole, type Role } from './auth.js';

export interface PipelineRoutesDeps {
  state: Pick<StateStore, 'defaultWorkspace'>;
  /** The pipeline store; absent where this process has none (the routes answer 409). */
  store?: PipelineStore;
  /** The pipelines folder and the schema models are built in unless they name one. */
  dir: string;
  schema: string;
}

const RUN_STATES: readonly RunState[] = ['running', 'succeeded', 'failed'];
const RUN_KINDS: readonly RunKind[] = ['manual', 'schedule', 'watermark', 'backfill'];

/** A check's header as JSON: SQL checks give their line, not their parsed template. */
function checkView(c: CheckSpec) {
  const { line, name, kind, severity } = c;
  switch (c.kind) {
    case 'not_null':
      return { name, kind, severity, line, column: c.column };
    case 'unique':
      return { name, kind, severity, line, columns: c.columns };
    case 'accepted_values':
      return { name, kind, severity, line, column: c.column, values: c.values };
    case 'row_count':
      return { name, kind, severity, line, min: c.min ?? null, max: c.max ?? null };
    case 'freshness':
      return { name, kind, severity, line, column: c.column, maxAgeMs: c.maxAgeMs };
    case 'sql':
      return { name, kind, severity, line };
  }
}

/** A model's header and dependencies, as the graph and the model panel show them. */
export function modelView(m: Model) {
  const common = {
    name: m.name,
    file: m.file,
    kind: m.kind,
    partition: m.partition,
    trigger: m.trigger,
    start: m.start?.toISOString() ?? null,
    retries: m.retries,
    retryDelayMs: m.retryDelayMs,
    timeoutMs: m.timeoutMs,
    description: m.description ?? null,
    upstream: m.upstream,
  };
  return m.kind === 'sql'
    ? { ...common, materialized: m.materialized, schema: m.schema, partitionBy: m.partitionBy ?? null, checks: m.checks.map(checkView) }
    : { ...common, materialized: null, schema: null, partitionBy: null, checks: [] };
}

function queryOf(req: FastifyRequest): Record<string, string | undefined> {
  return req.query as Record<string, string | undefined>;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined || value === '') return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: `${name} must be one of ${allowed.join(', ')}, got ${value}` });
}

/**
 * Registers `/api/pipelines…`.
 *
 * @example
 * ```ts
 * await app.register(pipelineRoutes, { state, store, dir: config.pipelines.dir, schema: config.pipelines.schema });
 * // GET /api/pipelines/runs?model=sessions&state=failed&limit=20
 * ```
 */
export async function pipelineRoutes(app: FastifyInstance, deps: PipelineRoutesDeps): Promise<void> {
  /** Throws unless the caller holds `min` in the default workspace (which pipelines belong to). */
  const allow = async (req: FastifyRequest, min: Role): Promise<void> => {
    const workspace = await deps.state.defaultWorkspace();
    // Callers outside the workspace get 404, as for anything of a workspace they cannot see.
    if (!canSee(req, workspace.id)) throw new WeirError('WEIR_API_NOT_FOUND', { method: req.method, url: req.url.split('?')[0] });
    requireRole(req, workspace.id, min);
  };
  const mayRun = async (req: FastifyRequest): Promise<boolean> => {
    try {
      await allow(req, 'editor');
      return true;
    } catch {
      return false;
    }
  };
  const store = (): PipelineStore => {
    if (!deps.store) throw new WeirError('WEIR_PIPELINE_NO_FOLDER', { dir: deps.dir });
    return deps.store;
  };
  const project = (): Project => loadProject(deps.dir, { schema: deps.schema });

  /** The graph: every model with its header, upstream models and last run; the folder's problems. */
  app.get('/api/pipelines', async (req) => {
    await allow(req, 'viewer');
    let p: Project;
    try {
      p = project();
    } catch (err) {
      // No folder yet is a state the page explains, not a failed request.
      if (err instanceof WeirError && err.code === 'WEIR_PIPELINE_NO_FOLDER') {
        return { models: [], order: [], problems: [{ code: err.code, file: '', line: 0, message: err.message }], canRun: false };
      }
      throw err;
    }
    const [last, running] = deps.store ? await Promise.all([deps.store.lastRuns(), deps.store.runningModels()]) : [new Map(), new Set<string>()];
    const names = [...p.order, ...[...p.models.keys()].filter((n) => !p.order.includes(n)).sort()];
    return {
      models: names.map((n) => ({ ...modelView(p.models.get(n)!), last: last.get(n) ?? null, running: running.has(n) })),
      order: p.order,
      problems: p.problems,
      canRun: deps.store !== undefined && (await mayRun(req)),
    };
  });

  /** One model: its header, its last runs and the history of its checks. */
  app.get('/api/pipelines/models/:model', async (req) => {
    await allow(req, 'viewer');
    const name = (req.params as { model: string }).model;
    const model = project().models.get(name);
    if (!model) throw new WeirError('WEIR_PIPELINE_NOT_FOUND', { model: name });
    const limit = positiveInt(queryOf(req).limit, 'limit', 20, 1000);
    const s = store();
    const [lastRuns, checks] = await Promise.all([s.listModelTasks(name, limit), s.listCheckResults({ model: name, limit: limit * 10 })]);
    return { model: modelView(model), lastRuns, checks };
  });

  /** Runs, newest first: `?limit=&before=<createdAt>&state=&kind=&model=`. */
  app.get('/api/pipelines/runs', async (req) => {
    await allow(req, 'viewer');
    const q = queryOf(req);
    const runs = await store().listRuns({
      limit: positiveInt(q.limit, 'limit', 20, 500),
      before: dateParam(q.before, 'before')?.toISOString(),
      state: oneOf(q.state, RUN_STATES, 'state'),
      kind: oneOf(q.kind, RUN_KINDS, 'kind'),
      model: q.model === '' ? undefined : q.model,
    });
    return { runs, next: runs.length > 0 ? runs[runs.length - 1]!.createdAt : null };
  });

  /** A run with its tasks, attempts and check results, and the server's clock for "now". */
  app.get('/api/pipelines/runs/:id', async (req) => {
    await allow(req, 'viewer');
    const id = (req.params as { id: string }).id;
    const s = store();
    const run = await s.getRun(id);
    if (!run) throw new WeirError('WEIR_PIPELINE_RUN_NOT_FOUND', { run: id });
    const [attempts, checks] = await Promise.all([s.listAttempts({ runId: id }), s.listCheckResults({ runId: id })]);
    return { run, attempts, checks, now: new Date().toISOString() };
  });

  /** An attempt's log (stdout and stderr of a shell step, the statements of a SQL model). */
  app.get('/api/pipelines/attempts/:id/log', async (req) => {
    await allow(req, 'viewer');
    const id = (req.params as { id: string }).id;
    const log = await store().attemptLog(id);
    if (log === undefined) throw new WeirError('WEIR_API_NOT_FOUND', { method: req.method, url: req.url.split('?')[0] });
    return { attemptId: id, log };
  });

  /** Check results over time: `?model=&check=&limit=`. */
  app.get('/api/pipelines/checks', async (req) => {
    await allow(req, 'viewer');
    const q = queryOf(req);
    const checks = await store().listCheckResults({ model: q.model || undefined, check: q.check || undefined, limit: positiveInt(q.limit, 'limit', 200, 5000) });
    return { checks };
  });

  /**
   * Runs models now, like `weir pipelines run --detach`: `{ models?: string[], partition?: ISO
   * time, full?: boolean }` → 201 `{ run }`; a running pipeline worker picks it up.
   */
  app.post('/api/pipelines/runs', { bodyLimit: 16 * 1024 }, async (req, reply) => {
    await allow(req, 'editor');
    const raw = req.body as Buffer | undefined;
    const body = (raw === undefined || raw.length === 0 ? {} : jsonBody(req, 16 * 1024)) as { models?: unknown; partition?: unknown; full?: unknown };
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'the body must be a JSON object' });
    const models = body.models ?? [];
    if (!Array.isArray(models) || !models.every((m): m is string => typeof m === 'string' && m !== '')) {
      throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'models must be a list of model names (name, name+, +name)' });
    }
    if (body.full !== undefined && typeof body.full !== 'boolean') throw new WeirError('WEIR_API_INVALID_REQUEST', { detail: 'full must be true or false' });
    const s = store();
    const p = project();
    if (p.problems.length > 0) throw new WeirError('WEIR_PIPELINE_INVALID', { count: p.problems.length, dir: deps.dir });
    const plan = manualRun(p, { models, partition: dateParam(body.partition, 'partition'), full: body.full === true, now: new Date(), via: 'api' });
    const runId = await s.createRun(plan);
    reply.code(201);
    return { run: await s.getRun(runId) };
  });

  /** Runs the unsuccessful part of a finished run again (409 while it is running). */
  app.post('/api/pipelines/runs/:id/retry', async (req) => {
    await allow(req, 'editor');
    const id = (req.params as { id: string }).id;
    const s = store();
    const reset = await s.retryRun(id);
    return { reset, run: await s.getRun(id) };
  });
}
