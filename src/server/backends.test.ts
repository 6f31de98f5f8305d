import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../config/load.js';
import { WeirError } from '../errors/catalogue.js';
import { openLog, openPipelineStore, openState } from './backends.js';

function isCode(code: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof WeirError && err.code === code, String(err));
    return true;
  };
}

test('state.backend postgres needs state.postgresUrl, for the state and the pipeline store', async () => {
  const config = loadConfig({ env: { WEIR_STATE_BACKEND: 'postgres' }, cwd: '/tmp' });
  await assert.rejects(openState(config), (err: unknown) => isCode('WEIR_CONFIG_INVALID')(err) && /WEIR_STATE_POSTGRES_URL/.test(String(err)));
  await assert.rejects(openPipelineStore(config), isCode('WEIR_CONFIG_INVALID'));
});

test('log.backend nats opens JetStream at log.nats.servers', async () => {
  // Nothing listens on port 1: the NATS adapter was chosen and says the server is unreachable.
  const config = loadConfig({ env: { WEIR_LOG_BACKEND: 'nats', WEIR_LOG_NATS_SERVERS: '127.0.0.1:1' }, cwd: '/tmp' });
  await assert.rejects(openLog(config), (err: unknown) => isCode('WEIR_LOG_UNAVAILABLE')(err) && /127\.0\.0\.1:1/.test(String(err)));
});
