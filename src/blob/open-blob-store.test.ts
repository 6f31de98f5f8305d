import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { WeirError } from '../errors/catalogue.js';
import { LakeStorageSchema, openBlobStore, type LakeStorageConfig } from './open-blob-store.js';

function isConfigInvalid(pattern: RegExp): (err: unknown) => boolean {
  return (err: unknown) => {
    assert.ok(err instanceof WeirError && err.code === 'WEIR_CONFIG_INVALID', String(err));
    assert.match(err.message, pattern);
    return true;
  };
}

describe('LakeStorageSchema', () => {
  it('fills every default from an empty object, as the configuration loader does, and opens <dataDir>/lake', async () => {
    const validate = new Ajv({ useDefaults: true, strict: false }).compile<LakeStorageConfig>(LakeStorageSchema);
    const cfg: unknown = {};
    assert.ok(validate(cfg), JSON.stringify(validate.errors));
    assert.deepEqual(cfg, {
      kind: 'fs',
      dir: '',
      s3: { bucket: '', prefix: '', region: 'us-east-1', endpoint: '', forcePathStyle: false, accessKeyId: '', secretAccessKey: '' },
      azure: { connectionString: '', container: '', prefix: '' },
    });
    assert.equal(validate({ kind: 'gcs' }), false);
    assert.equal(validate({ s3: { bucket: 'b', unknown: 1 } }), false);
    const dataDir = await mkdtemp(join(tmpdir(), 'weir-lake-cfg-'));
    try {
      const store = await openBlobStore(cfg as LakeStorageConfig, { dataDir });
      assert.equal(store.kind, 'fs');
      assert.equal(store.localPath('x'), join(dataDir, 'lake', 'x'));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('openBlobStore', () => {
  it('refuses incomplete remote settings with WEIR_CONFIG_INVALID naming the option', async () => {
    await assert.rejects(openBlobStore({ kind: 's3' }, { dataDir: '.' }), isConfigInvalid(/s3\.bucket/));
    await assert.rejects(openBlobStore({ kind: 's3', s3: { bucket: 'b', accessKeyId: 'AKIA' } }, { dataDir: '.' }), isConfigInvalid(/secretAccessKey/));
    await assert.rejects(openBlobStore({ kind: 'azure', azure: { container: 'c' } }, { dataDir: '.' }), isConfigInvalid(/azure\.connectionString/));
    await assert.rejects(openBlobStore({ kind: 's3', s3: { bucket: 'b', prefix: 'lake/../up' } }, { dataDir: '.' }), isConfigInvalid(/prefix/));
    await assert.rejects(openBlobStore({ kind: 'gcs' as 'fs' }, { dataDir: '.' }), isConfigInvalid(/fs, s3 or azure/));
  });
});
