import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ROOT,
  checkCompose,
  checkDockerfile,
  checkK8sSchemas,
  checkK8sWeir,
  readYaml,
  registeredPaths,
  yamlFiles,
} from './deploy-checks.js';

// Deployment files are not run here (no container runtime or cluster in CI): these tests check
// them against the Kubernetes schemas and against Weir itself, and each broken copy below shows
// that a check catches the mistake it is for.

const K8S = join(ROOT, 'deploy/k8s');
const COMPOSE = join(ROOT, 'deploy/compose');
const k8sDocs = () => yamlFiles(K8S).flatMap(readYaml);
const paths = registeredPaths();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: { weir: string } };
const dockerCtx = {
  bin: pkg.bin.weir,
  include: (JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] }).include,
  dockerignore: readFileSync(join(ROOT, '.dockerignore'), 'utf8'),
};
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const composeFiles = () => yamlFiles(COMPOSE).map((f) => ({ f, doc: readYaml(f)[0]! }));

/** A deep copy of the manifests with one change made by `edit`. */
function broken<T>(docs: T, edit: (copy: T) => void): T {
  const copy = structuredClone(docs);
  edit(copy);
  return copy;
}
const byName = (docs: Record<string, any>[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
const container = (docs: Record<string, any>[], name: string) => byName(docs, 'Deployment', name).spec.template.spec.containers[0];

function assertCaught(problems: string[], fragment: string): void {
  assert.ok(problems.some((p) => p.includes(fragment)), `expected a problem with "${fragment}", got:\n${problems.join('\n')}`);
}

test('every Kubernetes object is valid against the schema of its apiVersion and kind', async () => {
  const docs = k8sDocs();
  assert.ok(docs.length >= 10, `only ${docs.length} objects`);
  assert.deepEqual(await checkK8sSchemas(docs), []);
});

test('the Kubernetes schema check catches a wrong type and an unknown kind', async () => {
  const docs = k8sDocs();
  assertCaught(await checkK8sSchemas(broken(docs, (d) => (container(d, 'weir-ui').ports[0].containerPort = 'http'))), 'containerPort must be integer');
  assertCaught(await checkK8sSchemas(broken(docs, (d) => (byName(d, 'HorizontalPodAutoscaler', 'weir-collector').apiVersion = 'autoscaling/v3'))), 'no Kubernetes model');
});

test('the manifests run real roles with real settings, probes, limits and a locked-down container', () => {
  assert.deepEqual(checkK8sWeir(k8sDocs(), paths), []);
});

test('the Kubernetes checks catch each mistake they are for', () => {
  const docs = k8sDocs();
  const cases: [string, (d: Record<string, any>[]) => void][] = [
    ['runs "colector"', (d) => (container(d, 'weir-collector').args = ['colector'])],
    ['worker role "lakes"', (d) => (container(d, 'weir-worker').args = ['worker', '--roles', 'loader,lakes'])],
    ['WEIR_LOG_BACKEN sets no option', (d) => (byName(d, 'ConfigMap', 'weir-config').data.WEIR_LOG_BACKEN = 'nats')],
    ['log.backend', (d) => (byName(d, 'ConfigMap', 'weir-config').data.WEIR_LOG_BACKEND = 'kafka')],
    ['WEIR_LAKE_S3_SECRET sets no option', (d) => (byName(d, 'Secret', 'weir-secrets').stringData.WEIR_LAKE_S3_SECRET = 'x')],
    ['WEIR_SERVER_PORTS sets no option', (d) => (container(d, 'weir-ui').env = [{ name: 'WEIR_SERVER_PORTS', value: '1' }])],
    ['no readinessProbe', (d) => delete container(d, 'weir-worker').readinessProbe],
    ['livenessProbe asks /health,', (d) => (container(d, 'weir-ui').livenessProbe.httpGet.path = '/health')],
    ['readinessProbe port metrics', (d) => (container(d, 'weir-ui').readinessProbe.httpGet.port = 'metrics')],
    ['no containerPort 9090', (d) => (byName(d, 'ConfigMap', 'weir-config').data.WEIR_SERVER_PORT = '9090')],
    ['no memory limits', (d) => delete container(d, 'weir-collector').resources.limits.memory],
    ['not runAsNonRoot', (d) => {
      container(d, 'weir-collector').securityContext.runAsNonRoot = false;
      byName(d, 'Deployment', 'weir-collector').spec.template.spec.securityContext.runAsNonRoot = false;
    }],
    ['root filesystem is writable', (d) => (container(d, 'weir-worker').securityContext.readOnlyRootFilesystem = false)],
    ['do not drop ALL', (d) => (container(d, 'weir-worker').securityContext.capabilities.drop = ['NET_RAW'])],
    ['nothing writable mounted at /var/lib/weir', (d) => (byName(d, 'ConfigMap', 'weir-config').data.WEIR_DATA_DIR = '/var/lib/weir')],
    ['nothing writable mounted at /tmp', (d) => (container(d, 'weir-ui').volumeMounts = container(d, 'weir-ui').volumeMounts.filter((m: any) => m.mountPath !== '/tmp'))],
    ['terminationGracePeriodSeconds 10 is not above', (d) => (byName(d, 'Deployment', 'weir-ui').spec.template.spec.terminationGracePeriodSeconds = 10)],
    ['terminationGracePeriodSeconds 30 is not above the drain timeout 40000', (d) => (byName(d, 'ConfigMap', 'weir-config').data.WEIR_SERVER_DRAIN_TIMEOUT_MS = '40000')],
    ['prometheus.io annotations', (d) => (byName(d, 'Deployment', 'weir-worker').spec.template.metadata.annotations['prometheus.io/port'] = '9090')],
    ['envFrom names ConfigMap weir-settings', (d) => (container(d, 'weir-worker').envFrom[0].configMapRef.name = 'weir-settings')],
    ['not the collector Deployment', (d) => (byName(d, 'HorizontalPodAutoscaler', 'weir-collector').spec.scaleTargetRef.name = 'weir-ui')],
    ['sets replicas, which the HPA owns', (d) => (byName(d, 'Deployment', 'weir-collector').spec.replicas = 3)],
    ['PodDisruptionBudget/weir-worker: selector matches 0', (d) => (byName(d, 'PodDisruptionBudget', 'weir-worker').spec.selector.matchLabels['app.kubernetes.io/component'] = 'workers')],
    ['Deployment/weir-worker: no PodDisruptionBudget', (d) => d.splice(d.indexOf(byName(d, 'PodDisruptionBudget', 'weir-worker')), 1)],
    ['Service/weir-ui: selector matches 0', (d) => (byName(d, 'Service', 'weir-ui').spec.selector['app.kubernetes.io/component'] = 'web')],
    ['targetPort web is no container port', (d) => (byName(d, 'Service', 'weir-ui').spec.ports[0].targetPort = 'web')],
    ['selector does not match the pod labels', (d) => (byName(d, 'Deployment', 'weir-ui').spec.selector.matchLabels['app.kubernetes.io/component'] = 'api')],
    ['no Deployment runs worker', (d) => d.splice(d.indexOf(byName(d, 'Deployment', 'weir-worker')), 1)],
    ['namespace "default"', (d) => (byName(d, 'Service', 'weir-ui').metadata.namespace = 'default')],
    ['Service weir-api, which the manifests do not create', (d) => (byName(d, 'Ingress', 'weir').spec.rules[0].http.paths[0].backend.service.name = 'weir-api')],
  ];
  for (const [fragment, edit] of cases) assertCaught(checkK8sWeir(broken(docs, edit), paths), fragment);
  assertCaught(checkK8sWeir(docs, new Set(['/healthz', '/metrics'])), 'registers no GET /readyz');
});

test('the compose files run real roles with real settings and healthchecks', () => {
  const files = composeFiles();
  assert.deepEqual(files.map(({ f }) => f.slice(COMPOSE.length + 1)).sort(), ['docker-compose.embedded.yml', 'docker-compose.yml']);
  for (const { f, doc } of files) assert.deepEqual(checkCompose(doc, f), []);
  const scaled = files.find(({ f }) => f.endsWith('docker-compose.yml'))!.doc;
  assert.ok(scaled.services.collector.deploy.replicas >= 2, 'at least two collectors');
  for (const engine of ['nats', 'postgres', 'clickhouse', 'redis']) assert.ok(scaled.services[engine]?.healthcheck, `${engine} with a healthcheck`);
});

test('the compose checks catch each mistake they are for', () => {
  const scaled = composeFiles().find(({ f }) => f.endsWith('docker-compose.yml'))!.doc;
  const cases: [string, (d: Record<string, any>) => void][] = [
    ['runs "colector"', (d) => (d.services.collector.command = ['colector'])],
    ['worker role "warehouse"', (d) => (d.services.worker.command = ['worker', '--roles', 'warehouse'])],
    ['WEIR_WAREHOUSE_ENGIN sets no option', (d) => (d.services.ui.environment.WEIR_WAREHOUSE_ENGIN = 'clickhouse')],
    ['warehouse.engine', (d) => (d.services.ui.environment.WEIR_WAREHOUSE_ENGINE = '${ENGINE:-bigquery}')],
    ['no healthcheck on /healthz', (d) => delete d.services.worker.healthcheck],
    ['waits for redis to be healthy, which has no healthcheck', (d) => delete d.services.redis.healthcheck],
    ['depends on nat, no service', (d) => (d.services.ui.depends_on = { nat: { condition: 'service_started' } })],
    ['without required: false', (d) => delete d.services.worker.depends_on['minio-bucket'].required],
    ['publishes 8090:80,', (d) => (d.services.ui.ports = ['8090:80'])],
    ['stop_grace_period 5s', (d) => (d.services.collector.stop_grace_period = '5s')],
  ];
  for (const [fragment, edit] of cases) assertCaught(checkCompose(broken(scaled, edit), 'compose'), fragment);
});

test('the Dockerfile builds in stages and runs the built CLI as a non-root user', () => {
  assert.deepEqual(checkDockerfile(dockerfile, dockerCtx), []);
  // The build output the ENTRYPOINT names (the tests run after `npm run build`).
  assert.ok(existsSync(join(ROOT, pkg.bin.weir)), `${pkg.bin.weir} is not in the build output`);
});

test('the Dockerfile checks catch each mistake they are for', () => {
  const cases: [string, string, string][] = [
    ['USER 10001:10001', 'USER root', 'runs as root'],
    ['USER 10001:10001\n', '', 'root (no USER)'],
    ['"dist/src/cli/main.js"]', '"dist/cli/main.js"]', 'is not ["node", "dist/src/cli/main.js"]'],
    ['CMD ["up"]', 'CMD ["serve"]', 'runs "serve"'],
    ['FROM node:20-bookworm-slim AS runtime', '', 'not a multi-stage build'],
    ['COPY bench ./bench\n', '', 'compiles bench/'],
    ['/src/dist ./dist', '/src/dist ./out', 'copies no dist/'],
    ['WEIR_SERVER_PORT=8080', 'WEIR_SERVER_PORTT=8080', 'WEIR_SERVER_PORTT sets no option'],
    ['VOLUME /data', 'VOLUME /var/lib/weir', 'is not a VOLUME'],
    ['EXPOSE 8080', 'EXPOSE 80', 'does not EXPOSE'],
    ['CMD ["node", "-e"', 'CMD ["curl", "-e"', 'no HEALTHCHECK'],
    [' \\\n && npm prune --omit=dev --no-audit --no-fund', '', 'does not prune'],
  ];
  for (const [from, to, fragment] of cases) {
    assert.ok(dockerfile.includes(from), `the Dockerfile has no ${JSON.stringify(from)} to break`);
    assertCaught(checkDockerfile(dockerfile.replace(from, to), dockerCtx), fragment);
  }
  assertCaught(checkDockerfile(dockerfile, { ...dockerCtx, dockerignore: 'dist\n' }), 'does not leave out node_modules');
});
