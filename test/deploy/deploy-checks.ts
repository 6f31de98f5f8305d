/**
 * Checks of the deployment files (Dockerfile, deploy/compose, deploy/k8s) against what Weir
 * really is: its CLI roles, its configuration schema, its health endpoints. Each check returns
 * problems as text, so a test can assert both "no problems" on the real files and "this
 * problem" on a broken copy of them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadConfig, optionEnvNames } from '../../src/config/load.js';
import { WORKER_ROLES } from '../../src/server/roles.js';

/** The repository root (this file runs from dist/test/deploy/). */
export const ROOT = new URL('../../../', import.meta.url).pathname;

/** Subcommands that run a server process. */
export const CLI_ROLES = ['up', 'collector', 'worker', 'ui'] as const;

const ENV_NAMES = new Set(optionEnvNames());
const DEFAULTS = loadConfig({ env: {}, cwd: tmpdir() });

// A YAML document from the deploy files; fields are read loosely and checked as they are read.
type Obj = Record<string, any>;

/** Every YAML file under a folder, recursively, sorted. */
export function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/.test(name) ? [p] : [];
    });
}

/** Every document of a YAML file as plain objects; a syntax error throws naming the file. */
export function readYaml(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as Obj | null;
    return value === null ? [] : [value];
  });
}

/** GET paths the server code registers (`app.get('/healthz', …)`), from the sources. */
export function registeredPaths(dir = join(ROOT, 'src')): Set<string> {
  const out = new Set<string>();
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) registeredPaths(p).forEach((x) => out.add(x));
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
      for (const m of readFileSync(p, 'utf8').matchAll(/\.get\(\s*['"](\/[^'"]*)['"]/g)) out.add(m[1]!);
    }
  }
  return out;
}

/** Problems with a process's command line: the role, and worker roles. */
export function checkCommand(tokens: string[], where: string): string[] {
  const rest = [...tokens];
  // An explicit `node dist/src/cli/main.js` before the role, as a k8s `command` would have it.
  if (rest[0] === 'node') rest.splice(0, 2);
  const role = rest[0];
  if (!(CLI_ROLES as readonly string[]).includes(role ?? '')) {
    return [`${where}: runs ${JSON.stringify(role)}, not one of ${CLI_ROLES.join(', ')}`];
  }
  const problems: string[] = [];
  const i = rest.indexOf('--roles');
  if (i >= 0) {
    if (role !== 'worker') problems.push(`${where}: --roles is a worker option, given to ${role}`);
    const names = (rest[i + 1] ?? '').split(',');
    for (const n of names) {
      if (!(WORKER_ROLES as readonly string[]).includes(n)) problems.push(`${where}: worker role ${JSON.stringify(n)} is not one of ${WORKER_ROLES.join(', ')}`);
    }
  }
  return problems;
}

/** Problems with WEIR_* variables: names no option has, and values the schema refuses. */
export function checkEnv(env: Record<string, unknown>, where: string): string[] {
  const problems = Object.keys(env)
    .filter((k) => k.startsWith('WEIR_') && !ENV_NAMES.has(k))
    .map((k) => `${where}: ${k} sets no option of src/config/schema.ts`);
  const strings = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  try {
    loadConfig({ env: strings, cwd: tmpdir() });
  } catch (err) {
    problems.push(`${where}: ${(err as Error).message}`);
  }
  return problems;
}

/** The drain timeout and port a set of WEIR_* variables gives. */
function serverSettings(env: Record<string, string>): { drainTimeoutMs: number; port: number } {
  try {
    const c = loadConfig({ env, cwd: tmpdir() });
    return { drainTimeoutMs: c.server.drainTimeoutMs, port: c.server.port };
  } catch {
    return { drainTimeoutMs: DEFAULTS.server.drainTimeoutMs, port: DEFAULTS.server.port }; // reported by checkEnv
  }
}

function subset(selector: Obj | undefined, labels: Obj | undefined): boolean {
  const s = Object.entries(selector ?? {});
  return s.length > 0 && s.every(([k, v]) => labels?.[k] === v);
}

const name = (o: Obj): string => `${o.kind}/${o.metadata?.name}`;

// Model classes of the kubernetes-models package, by apiVersion and kind.
async function modelClass(apiVersion: string, kind: string): Promise<(new (o: Obj) => { validate(): void }) | undefined> {
  try {
    const mod = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
    return mod[kind] as (new (o: Obj) => { validate(): void }) | undefined;
  } catch {
    return undefined;
  }
}

/** Each object against the Kubernetes OpenAPI schema of its apiVersion and kind. */
export async function checkK8sSchemas(docs: Obj[]): Promise<string[]> {
  const problems: string[] = [];
  for (const doc of docs) {
    const Model = await modelClass(String(doc.apiVersion), String(doc.kind));
    if (!Model) {
      problems.push(`${name(doc)}: no Kubernetes model for ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    try {
      new Model(doc).validate();
    } catch (err) {
      problems.push(`${name(doc)}: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Weir's own rules for the manifests, beyond the schemas. */
export function checkK8sWeir(docs: Obj[], paths: Set<string>): string[] {
  const problems: string[] = [];
  const of = (kind: string): Obj[] => docs.filter((d) => d.kind === kind);
  const configMaps = new Map(of('ConfigMap').map((c) => [c.metadata.name as string, (c.data ?? {}) as Record<string, string>]));
  const secrets = new Map(of('Secret').map((s) => [s.metadata.name as string, { ...s.data, ...s.stringData } as Record<string, string>]));
  for (const [n, data] of configMaps) problems.push(...checkEnv(data, `ConfigMap/${n}`));
  for (const [n, data] of secrets) problems.push(...checkEnv(data, `Secret/${n}`));

  const namespaces = of('Namespace').map((n) => n.metadata.name as string);
  for (const doc of docs) {
    if (doc.kind !== 'Namespace' && !namespaces.includes(doc.metadata?.namespace)) {
      problems.push(`${name(doc)}: namespace ${JSON.stringify(doc.metadata?.namespace)} is not one the manifests create (${namespaces.join(', ')})`);
    }
  }

  for (const p of ['/healthz', '/readyz', '/metrics']) {
    if (!paths.has(p)) problems.push(`the server code registers no GET ${p}`);
  }

  const deployments = of('Deployment');
  const roleOf = new Map<string, string>();
  for (const d of deployments) {
    const where = name(d);
    const pod: Obj = d.spec?.template?.spec ?? {};
    const labels: Obj = d.spec?.template?.metadata?.labels ?? {};
    if (!subset(d.spec?.selector?.matchLabels, labels)) problems.push(`${where}: selector does not match the pod labels`);
    const volumes = new Map(((pod.volumes ?? []) as Obj[]).map((v) => [v.name as string, v]));
    for (const c of (pod.containers ?? []) as Obj[]) {
      const cw = `${where} container ${c.name}`;
      problems.push(...checkCommand([...(c.command ?? []), ...(c.args ?? [])], cw));
      roleOf.set(d.metadata.name, [...(c.command ?? []), ...(c.args ?? [])].filter((t) => t !== 'node' && !t.endsWith('.js'))[0] ?? '');

      // The environment the process sees: envFrom first, then env.
      const env: Record<string, string> = {};
      for (const from of (c.envFrom ?? []) as Obj[]) {
        const ref = from.configMapRef?.name ?? from.secretRef?.name;
        const source = from.configMapRef ? configMaps.get(ref) : secrets.get(ref);
        if (!source) problems.push(`${cw}: envFrom names ${from.configMapRef ? 'ConfigMap' : 'Secret'} ${ref}, which the manifests do not create`);
        Object.assign(env, source ?? {});
      }
      const own = Object.fromEntries(((c.env ?? []) as Obj[]).map((e) => [e.name as string, String(e.value ?? '')]));
      problems.push(...checkEnv(own, cw));
      Object.assign(env, own);
      const server = serverSettings(env);

      const ports = (c.ports ?? []) as Obj[];
      if (!ports.some((p) => p.containerPort === server.port)) problems.push(`${cw}: no containerPort ${server.port} (server.port)`);
      for (const [probe, path] of [['livenessProbe', '/healthz'], ['readinessProbe', '/readyz']] as const) {
        const get = c[probe]?.httpGet as Obj | undefined;
        if (!get) {
          problems.push(`${cw}: no ${probe} httpGet`);
          continue;
        }
        if (get.path !== path) problems.push(`${cw}: ${probe} asks ${get.path}, not ${path}`);
        if (!paths.has(get.path)) problems.push(`${cw}: ${probe} asks ${get.path}, which the server does not serve`);
        const port = typeof get.port === 'string' ? ports.find((p) => p.name === get.port)?.containerPort : get.port;
        if (port !== server.port) problems.push(`${cw}: ${probe} port ${get.port} is not server.port ${server.port}`);
      }
      for (const kind of ['requests', 'limits']) {
        for (const r of ['cpu', 'memory']) {
          if (c.resources?.[kind]?.[r] === undefined) problems.push(`${cw}: no ${r} ${kind}`);
        }
      }
      const sc: Obj = c.securityContext ?? {};
      if ((sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true) problems.push(`${cw}: not runAsNonRoot`);
      if (sc.allowPrivilegeEscalation !== false) problems.push(`${cw}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${cw}: capabilities do not drop ALL`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`${cw}: root filesystem is writable`);
      // A read-only root needs writable scratch space where Weir and Node write.
      const dataDir = env.WEIR_DATA_DIR ?? DEFAULTS.dataDir;
      for (const dir of ['/tmp', dataDir]) {
        const mount = ((c.volumeMounts ?? []) as Obj[]).find((m) => m.mountPath === dir);
        if (!mount) problems.push(`${cw}: nothing writable mounted at ${dir}`);
        else if (!volumes.has(mount.name)) problems.push(`${cw}: mount ${dir} names no volume of the pod`);
      }
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      if (grace * 1000 <= server.drainTimeoutMs) {
        problems.push(`${cw}: terminationGracePeriodSeconds ${grace} is not above the drain timeout ${server.drainTimeoutMs} ms`);
      }
      const ann: Obj = d.spec?.template?.metadata?.annotations ?? {};
      if (ann['prometheus.io/scrape'] !== 'true' || ann['prometheus.io/path'] !== '/metrics' || Number(ann['prometheus.io/port']) !== server.port) {
        problems.push(`${cw}: prometheus.io annotations do not point at /metrics on ${server.port}`);
      }
    }
  }
  for (const role of ['collector', 'worker', 'ui']) {
    if (![...roleOf.values()].includes(role)) problems.push(`no Deployment runs ${role}`);
  }

  const podsOf = (selector: Obj | undefined): Obj[] => deployments.filter((d) => subset(selector, d.spec?.template?.metadata?.labels));
  for (const pdb of of('PodDisruptionBudget')) {
    if (podsOf(pdb.spec?.selector?.matchLabels).length !== 1) problems.push(`${name(pdb)}: selector matches ${podsOf(pdb.spec?.selector?.matchLabels).length} Deployments, not 1`);
  }
  for (const d of deployments) {
    if (!of('PodDisruptionBudget').some((pdb) => podsOf(pdb.spec?.selector?.matchLabels).includes(d))) problems.push(`${name(d)}: no PodDisruptionBudget`);
  }
  const services = of('Service');
  for (const s of services) {
    const targets = podsOf(s.spec?.selector);
    if (targets.length !== 1) problems.push(`${name(s)}: selector matches ${targets.length} Deployments, not 1`);
    const containerPorts = targets.flatMap((d) => ((d.spec.template.spec.containers ?? []) as Obj[]).flatMap((c) => (c.ports ?? []) as Obj[]));
    for (const p of (s.spec?.ports ?? []) as Obj[]) {
      if (!containerPorts.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)) problems.push(`${name(s)}: targetPort ${p.targetPort} is no container port`);
    }
  }
  for (const role of ['collector', 'ui']) {
    if (!services.some((s) => podsOf(s.spec?.selector).some((d) => roleOf.get(d.metadata.name) === role))) problems.push(`no Service in front of ${role}`);
  }

  const hpas = of('HorizontalPodAutoscaler');
  for (const h of hpas) {
    const ref: Obj = h.spec?.scaleTargetRef ?? {};
    const target = deployments.find((d) => ref.kind === 'Deployment' && d.metadata.name === ref.name);
    if (!target || roleOf.get(target.metadata.name) !== 'collector') problems.push(`${name(h)}: targets ${ref.kind}/${ref.name}, not the collector Deployment`);
    if (!((h.spec?.metrics ?? []) as Obj[]).some((m) => m.resource?.name === 'cpu')) problems.push(`${name(h)}: no CPU metric`);
    if (!(h.spec?.minReplicas >= 2 && h.spec?.maxReplicas > h.spec?.minReplicas)) problems.push(`${name(h)}: replicas ${h.spec?.minReplicas}..${h.spec?.maxReplicas}`);
    if (target?.spec?.replicas !== undefined) problems.push(`${name(target)}: sets replicas, which the HPA owns`);
  }
  if (hpas.length === 0) problems.push('no HorizontalPodAutoscaler');

  for (const ing of of('Ingress')) {
    for (const rule of (ing.spec?.rules ?? []) as Obj[]) {
      for (const p of (rule.http?.paths ?? []) as Obj[]) {
        const svc = services.find((s) => s.metadata.name === p.backend?.service?.name);
        const port: Obj = p.backend?.service?.port ?? {};
        if (!svc) problems.push(`${name(ing)}: ${p.path} goes to Service ${p.backend?.service?.name}, which the manifests do not create`);
        else if (!((svc.spec.ports ?? []) as Obj[]).some((sp) => sp.name === port.name || sp.port === port.number)) problems.push(`${name(ing)}: ${p.path} goes to a port ${svc.metadata.name} does not have`);
      }
    }
  }
  return problems;
}

/** Compose's `${VAR:-default}` as it is without VAR set, and `$$` as `$`. */
function interpolate(value: unknown): string {
  return String(value)
    .replace(/\$\{[A-Z0-9_]+(?::?-([^}]*))?\}/g, (_m, d: string | undefined) => d ?? '')
    .replace(/\$\$/g, '$');
}

/** Weir's rules for a compose file: roles, WEIR_* settings, healthchecks, dependencies. */
export function checkCompose(file: Obj, where: string): string[] {
  const problems: string[] = [];
  const services: Obj = file.services ?? {};
  for (const [svcName, svc] of Object.entries(services) as [string, Obj][]) {
    const sw = `${where} service ${svcName}`;
    const isWeir = svc.image?.startsWith('weir') || svc.build !== undefined;
    const env: Record<string, string> = Array.isArray(svc.environment)
      ? Object.fromEntries((svc.environment as string[]).map((e) => [e.split('=')[0]!, e.split('=').slice(1).join('=')]))
      : { ...svc.environment };
    const interpolated = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, interpolate(v)]));
    for (const [dep, cond] of Object.entries(svc.depends_on ?? {}) as [string, Obj][]) {
      if (!services[dep]) problems.push(`${sw}: depends on ${dep}, no service of the file`);
      else if (cond?.condition === 'service_healthy' && !services[dep].healthcheck) problems.push(`${sw}: waits for ${dep} to be healthy, which has no healthcheck`);
      else if (services[dep].profiles && !(services[dep].profiles as string[]).some((p) => (svc.profiles ?? []).includes(p)) && cond?.required !== false) problems.push(`${sw}: depends on ${dep}, only in profile ${services[dep].profiles}, without required: false`);
    }
    if (!isWeir) continue;
    const command = typeof svc.command === 'string' ? (svc.command as string).split(/\s+/) : ((svc.command ?? []) as string[]);
    problems.push(...checkCommand(command, sw));
    problems.push(...checkEnv(interpolated, sw));
    const test = ([] as string[]).concat(svc.healthcheck?.test ?? []).join(' ');
    if (!test.includes('/healthz')) problems.push(`${sw}: no healthcheck on /healthz`);
    const { port, drainTimeoutMs } = serverSettings(interpolated);
    for (const p of (svc.ports ?? []) as string[]) {
      if (!String(p).endsWith(`:${port}`)) problems.push(`${sw}: publishes ${p}, not server.port ${port}`);
    }
    if (!test.includes(`:${port}/`)) problems.push(`${sw}: healthcheck does not ask server.port ${port}`);
    const grace = /^(\d+)s$/.exec(String(svc.stop_grace_period ?? '10s'));
    if (!grace || Number(grace[1]) * 1000 <= drainTimeoutMs) problems.push(`${sw}: stop_grace_period ${svc.stop_grace_period} is not above the drain timeout ${drainTimeoutMs} ms`);
  }
  return problems;
}

/** Dockerfile instructions: continuation lines joined, comments and blank lines dropped. */
export function dockerInstructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    const m = /^(\S+)\s*(.*)$/s.exec(current)!;
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
    current = '';
  }
  return out;
}

/** Weir's rules for the Dockerfile, given the package's bin entry and tsconfig's include. */
export function checkDockerfile(text: string, ctx: { bin: string; include: string[]; dockerignore: string }): string[] {
  const problems: string[] = [];
  const ins = dockerInstructions(text);
  const froms = ins.map((x, i) => ({ ...x, i })).filter((x) => x.op === 'FROM');
  if (froms.length < 2) problems.push(`Dockerfile: ${froms.length} stage(s), not a multi-stage build`);
  const stageNames = froms.map((f) => /\bAS\s+(\S+)/i.exec(f.args)?.[1]).filter(Boolean);
  const lastFrom = froms[froms.length - 1]?.i ?? 0;
  const build = ins.slice(0, lastFrom);
  const runtime = ins.slice(lastFrom);
  const json = (op: string): string[] | undefined => {
    const x = runtime.findLast((i) => i.op === op);
    try {
      return x ? (JSON.parse(x.args) as string[]) : undefined;
    } catch {
      problems.push(`Dockerfile: ${op} is not in exec (JSON) form`);
      return undefined;
    }
  };

  const user = runtime.findLast((i) => i.op === 'USER')?.args.split(':')[0];
  if (user === undefined || user === 'root' || user === '0') problems.push(`Dockerfile: the runtime stage runs as ${user ?? 'root (no USER)'}`);

  const entry = json('ENTRYPOINT');
  if (entry?.[0] !== 'node' || entry?.[1] !== ctx.bin) problems.push(`Dockerfile: ENTRYPOINT ${JSON.stringify(entry)} is not ["node", "${ctx.bin}"] (package.json bin)`);
  const outDir = ctx.bin.split('/')[0]!;
  const copiesOut = runtime.some((i) => i.op === 'COPY' && /--from=(\S+)/.test(i.args) && stageNames.includes(/--from=(\S+)/.exec(i.args)![1]) && new RegExp(`/${outDir}\\s+\\S*${outDir}/?$`).test(i.args));
  if (!copiesOut) problems.push(`Dockerfile: the runtime stage copies no ${outDir}/ from a build stage`);
  const cmd = json('CMD');
  if (cmd) problems.push(...checkCommand(cmd, 'Dockerfile CMD'));
  else problems.push('Dockerfile: no CMD');

  if (!build.some((i) => i.op === 'RUN' && /npm run build/.test(i.args))) problems.push('Dockerfile: the build stage does not run npm run build');
  if (!build.some((i) => i.op === 'RUN' && /npm prune --omit=dev/.test(i.args))) problems.push('Dockerfile: the build stage does not prune dev dependencies');
  const copied = build.filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  for (const dir of ctx.include) {
    if (!copied.includes(dir) && !copied.includes(`${dir}/`) && !copied.includes('.')) problems.push(`Dockerfile: tsconfig.json compiles ${dir}/, which the build stage does not copy`);
  }

  const env: Record<string, string> = {};
  for (const i of runtime.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/(\S+?)=(\S*)/g)) env[m[1]!] = m[2]!;
  }
  problems.push(...checkEnv(env, 'Dockerfile ENV'));
  const volumes = runtime.filter((i) => i.op === 'VOLUME').map((i) => i.args);
  if (!env.WEIR_DATA_DIR || !volumes.includes(env.WEIR_DATA_DIR)) problems.push(`Dockerfile: WEIR_DATA_DIR ${env.WEIR_DATA_DIR} is not a VOLUME (${volumes.join(', ')})`);
  const { port } = serverSettings(env);
  if (!runtime.some((i) => i.op === 'EXPOSE' && i.args.split(/\s+/).includes(String(port)))) problems.push(`Dockerfile: does not EXPOSE server.port ${port}`);
  const health = runtime.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
  if (!/CMD \["node"/.test(health) || !health.includes('/healthz')) problems.push('Dockerfile: no HEALTHCHECK asking /healthz with node');
  if (runtime.find((i) => i.op === 'STOPSIGNAL')?.args !== 'SIGTERM') problems.push('Dockerfile: STOPSIGNAL is not SIGTERM');

  const ignored = ctx.dockerignore.split('\n').map((l) => l.trim());
  for (const must of ['node_modules', 'dist']) {
    if (!ignored.includes(must) && !ignored.includes(`/${must}`)) problems.push(`.dockerignore: does not leave out ${must}`);
  }
  return problems;
}
