import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, envNameOf, optionEnvNames } from './load.js';
import { WeirError } from '../errors/catalogue.js';

test('zero configuration gives a working embedded setup, frozen', () => {
  const c = loadConfig({ env: {}, cwd: '/tmp/weir-none' });
  assert.equal(c.server.port, 8080);
  assert.equal(c.limits.maxEventBytes, 32 * 1024);
  assert.equal(c.limits.maxBatchBytes, 500 * 1024);
  assert.equal(c.dataDir, '/tmp/weir-none/.weir');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server));
  assert.throws(() => {
    (c.server as { port: number }).port = 1;
  });
});

test('environment overrides are coerced to the schema types', () => {
  const c = loadConfig({ env: { WEIR_SERVER_PORT: '9090', WEIR_SERVER_KEEP_CLIENT_IP: 'true', WEIR_LIMITS_MAX_DEPTH: '10' }, cwd: '/tmp' });
  assert.equal(c.server.port, 9090);
  assert.equal(c.server.keepClientIp, true);
  assert.equal(c.limits.maxDepth, 10);
  assert.equal(envNameOf('limits.maxBatchBytes'), 'WEIR_LIMITS_MAX_BATCH_BYTES');
  assert.ok(optionEnvNames().includes('WEIR_LOG_NATS_SERVERS') && optionEnvNames().includes('WEIR_DATA_DIR'));
});

test('errors name the option, where it came from and the value', () => {
  try {
    loadConfig({ env: { WEIR_LOGGING_LEVEL: 'loud' }, cwd: '/tmp' });
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof WeirError);
    assert.equal(err.code, 'WEIR_CONFIG_INVALID');
    assert.match(err.message, /logging\.level \(from WEIR_LOGGING_LEVEL\) = "loud"/);
  }
});

test('a value outside a set of choices lists the choices', () => {
  assert.throws(() => loadConfig({ env: { WEIR_WAREHOUSE_ENGINE: 'mysql' }, cwd: '/tmp' }), {
    message: /warehouse\.engine \(from WEIR_WAREHOUSE_ENGINE\) = "mysql": must be one of "duckdb", "postgres", "clickhouse", "none"/,
  });
});

test('the scale-out backends are chosen and set through the environment, and checked', () => {
  const c = loadConfig({
    env: {
      WEIR_LOG_BACKEND: 'nats',
      WEIR_LOG_NATS_SERVERS: 'nats://a:4222,nats://b:4222',
      WEIR_LOG_NATS_REPLICAS: '3',
      WEIR_STATE_BACKEND: 'postgres',
      WEIR_STATE_POSTGRES_URL: 'postgres://weir@db/weir',
    },
    cwd: '/tmp',
  });
  assert.equal(c.log.backend, 'nats');
  assert.deepEqual(c.log.nats, {
    servers: 'nats://a:4222,nats://b:4222',
    stream: 'WEIR',
    subjectPrefix: 'weir',
    replicas: 3,
    duplicateWindowMs: 120000,
    publishTimeoutMs: 5000,
    writerLeaseMs: 15000,
  });
  assert.deepEqual(c.state, { backend: 'postgres', postgresUrl: 'postgres://weir@db/weir', postgresSchema: '' });
  assert.throws(() => loadConfig({ env: { WEIR_LOG_NATS_STREAM: 'WEIR.EVENTS' }, cwd: '/tmp' }), {
    message: /log\.nats\.stream \(from WEIR_LOG_NATS_STREAM\) = "WEIR\.EVENTS"/,
  });
  assert.throws(() => loadConfig({ env: { WEIR_LOG_NATS_SUBJECT_PREFIX: 'weir.>' }, cwd: '/tmp' }), { message: /log\.nats\.subjectPrefix/ });
  assert.throws(() => loadConfig({ env: { WEIR_STATE_BACKEND: 'mysql' }, cwd: '/tmp' }), { message: /must be one of "sqlite", "postgres"/ });
});
