import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, RestError, type ContainerClient } from '@azure/storage-blob';
import { getBuffer } from '../../src/blob/blob-store.js';
import { openAzureBlobStore, type AzureContainerLike } from '../../src/blob/azure/index.js';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { WeirError } from '../../src/errors/catalogue.js';
import { azuriteConnectionString, startAzurite } from '../helpers/azurite.js';
import { assertEveryOperationRejects, blobStoreContract, isCode, isDenied, isUnavailable } from './blob-store.contract.js';

const MIB = 1024 * 1024;
const BLOCK = MIB;

async function freshContainer(connectionString: string): Promise<ContainerClient> {
  const c = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(`c${randomBytes(6).toString('hex')}`);
  await c.create();
  return c;
}

blobStoreContract('azure (Azurite)', async () => {
  const az = await startAzurite();
  const container = await freshContainer(az.connectionString);
  const store = await openAzureBlobStore({
    connectionString: az.connectionString,
    container: container.containerName,
    prefix: 'weir/contract',
    blockSize: BLOCK,
    pageSize: 25,
  });
  return { store, partSize: BLOCK, pageSize: 25, cleanup: az.stop };
});

describe('Azure blob store', () => {
  let az: Awaited<ReturnType<typeof startAzurite>>;
  let container: ContainerClient;
  before(async () => {
    az = await startAzurite();
    container = await freshContainer(az.connectionString);
  });
  after(async () => {
    await az?.stop();
  });

  it('openBlobStore from configuration: every key lives under the prefix, listings strip it and ignore the rest', async () => {
    const store = await openBlobStore(
      { kind: 'azure', azure: { connectionString: az.connectionString, container: container.containerName, prefix: 'tenant-a/lake/' } },
      { dataDir: '/nonexistent' },
    );
    assert.equal(store.kind, 'azure');
    assert.equal(store.localPath('source=s1/x.parquet'), undefined);
    await store.put('source=s1/x.parquet', Buffer.from('inside'), { contentType: 'application/vnd.apache.parquet' });
    const props = await container.getBlockBlobClient('tenant-a/lake/source=s1/x.parquet').getProperties();
    assert.equal(props.contentLength, 6);
    assert.equal(props.contentType, 'application/vnd.apache.parquet');
    for (const name of ['tenant-a/lake-b/y', 'tenant-a/lakex', 'tenant-a/lake/dir/', 'elsewhere/z']) {
      await container.getBlockBlobClient(name).upload('x', 1);
    }
    const listed: string[] = [];
    for await (const i of store.list()) listed.push(i.key);
    assert.deepEqual(listed, ['source=s1/x.parquet']);
    await store.delete('source=s1/x.parquet');
    const left: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: 'tenant-a/lake/' })) left.push(b.name);
    assert.deepEqual(left, ['tenant-a/lake/dir/']);
  });

  it('an unreachable endpoint is WEIR_BLOB_UNAVAILABLE, retriable, for every operation', async () => {
    const store = await openBlobStore(
      { kind: 'azure', azure: { connectionString: azuriteConnectionString('http://127.0.0.1:1'), container: 'lake' } },
      { dataDir: '/nonexistent' },
    );
    await assertEveryOperationRejects(store, isUnavailable);
  });

  it('a wrong account key is WEIR_BLOB_ACCESS_DENIED, not retriable', async () => {
    const wrongKey = Buffer.alloc(64, 7).toString('base64');
    const store = await openAzureBlobStore({ connectionString: azuriteConnectionString(az.endpoint, wrongKey), container: container.containerName });
    await assertEveryOperationRejects(store, isDenied);
  });

  it('a missing container is WEIR_BLOB_CONTAINER_NOT_FOUND, not a blob that is missing', async () => {
    const store = await openAzureBlobStore({ connectionString: az.connectionString, container: 'no-such-container' });
    await assertEveryOperationRejects(store, isCode('WEIR_BLOB_CONTAINER_NOT_FOUND', 500));
  });

  it('a staged put whose block fails with a 503 commits nothing and is retriable', async () => {
    const staged: string[] = [];
    const client: AzureContainerLike = {
      listBlobsFlat: (o) => container.listBlobsFlat(o),
      getBlockBlobClient: (name) => {
        const real = container.getBlockBlobClient(name);
        return Object.assign(Object.create(real) as typeof real, {
          stageBlock: async (...args: Parameters<typeof real.stageBlock>) => {
            staged.push(args[0]);
            if (staged.length === 2) throw new RestError('The server is busy.', { statusCode: 503, code: 'ServerBusy' });
            return real.stageBlock(...args);
          },
        });
      },
    };
    const store = await openAzureBlobStore({ container: container.containerName, prefix: 'fake', client, blockSize: BLOCK, blockConcurrency: 1 });
    await assert.rejects(store.put('big', randomBytes(2 * BLOCK + 1)), isUnavailable);
    assert.equal(staged.length, 2);
    assert.equal(await store.stat('big'), undefined);
    const small = randomBytes(100);
    await store.put('small', small);
    assert.deepEqual(await getBuffer(store, 'small'), small);
  });

  it('refuses a missing container or connection string and a malformed connection string', async () => {
    await assert.rejects(openBlobStore({ kind: 'azure', azure: { container: 'x' } }, { dataDir: '.' }), isCode('WEIR_CONFIG_INVALID'));
    await assert.rejects(openAzureBlobStore({ container: '', connectionString: az.connectionString }), isCode('WEIR_CONFIG_INVALID'));
    await assert.rejects(openAzureBlobStore({ container: 'x', connectionString: 'AccountKey=secret-value;nonsense' }), (err: unknown) => {
      assert.ok(err instanceof WeirError && err.code === 'WEIR_CONFIG_INVALID', String(err));
      assert.doesNotMatch(err.message, /secret-value/);
      return true;
    });
  });
});
