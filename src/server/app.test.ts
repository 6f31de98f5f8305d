import { parseSourceSettings } from '../state/settings.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from './app.js';
import { loadConfig } from '../config/load.js';
import { createMetrics } from '../observability/metrics.js';
import { createLogger } from '../observability/logger.js';
import { WeirError } from '../errors/catalogue.js';
import type { StateStore } from '../state/state-store.js';

const source = { id: 'src_1', workspaceId: 'ws_1', name: 'default', writeKey: 'key', createdAt: new Date(), settings: parseSourceSettings('{}') };

async function appWith(append: () => Promise<never>) {
  const failing = { append };
  return buildApp({
    config: loadConfig({ env: {}, cwd: '/tmp' }),
    writer: failing,
    failedWriter: failing,
    keys: { resolve: (k: string) => (k === 'key' ? source : undefined) },
    state: {} as StateStore,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: createLogger('silent'),
  });
}

test('a log that cannot sync answers 503 with Retry-After and a code, never 200', async () => {
  const app = await appWith(() => Promise.reject(new WeirError('WEIR_LOG_FSYNC_FAILED', { detail: 'EIO' })));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: `Basic ${Buffer.from('key:').toString('base64')}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ event: 'A', userId: 'u' }),
  });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.json().code, 'WEIR_LOG_FSYNC_FAILED');
  await app.close();
});

test('an unexpected error is a 500 with WEIR_SERVER_INTERNAL_ERROR and no stack trace', async () => {
  const app = await appWith(() => Promise.reject(new TypeError('boom at /secret/path.js:1')));
  const res = await app.inject({
    method: 'POST',
    url: '/v1/track',
    headers: { authorization: `Basic ${Buffer.from('key:').toString('base64')}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ event: 'A', userId: 'u' }),
  });
  assert.equal(res.statusCode, 500);
  assert.deepEqual(res.json(), { code: 'WEIR_SERVER_INTERNAL_ERROR', message: 'internal error' });
  const notFound = await app.inject({ method: 'GET', url: '/nope?x=1' });
  assert.equal(notFound.statusCode, 404);
  assert.equal(notFound.json().code, 'WEIR_API_NOT_FOUND');
  await app.close();
});
