import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { getBuffer, type BlobStore } from '../../src/blob/blob-store.js';
import { openBlobStore } from '../../src/blob/open-blob-store.js';
import { openS3BlobStore, type S3ClientLike } from '../../src/blob/s3/index.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../helpers/s3rver.js';
import { assertEveryOperationRejects, blobStoreContract, isCode, isDenied, isUnavailable } from './blob-store.contract.js';

const MIB = 1024 * 1024;
const PART = 5 * MIB;

blobStoreContract('s3 (s3rver)', async () => {
  const s3 = await startS3rver(['lake']);
  const store = await openS3BlobStore({
    bucket: 'lake',
    prefix: 'weir/contract',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    ...S3RVER_CREDENTIALS,
    partSize: PART,
    pageSize: 25,
  });
  return {
    store,
    partSize: PART,
    pageSize: 25,
    listOrderDefect: "s3rver 3.7 lists in its directory walk's order, not S3's byte order, when a file and a folder share a start",
    overwriteDefect: 's3rver 3.7 writes a completed multipart upload into the live file, so two completions interleave',
    cleanup: s3.stop,
  };
});

function rawClient(endpoint: string): S3Client {
  return new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
}

describe('S3 blob store', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let raw: S3Client;
  before(async () => {
    s3 = await startS3rver(['lake', 'other']);
    raw = rawClient(s3.endpoint);
  });
  after(async () => {
    raw?.destroy();
    await s3?.stop();
  });

  it('openBlobStore from configuration: every key lives under the prefix, listings strip it and ignore the rest', async () => {
    const store = await openBlobStore(
      { kind: 's3', s3: { bucket: 'lake', prefix: '/tenant-a/lake/', endpoint: s3.endpoint, forcePathStyle: true, region: 'eu-west-1', ...S3RVER_CREDENTIALS } },
      { dataDir: '/nonexistent' },
    );
    try {
      assert.equal(store.kind, 's3');
      assert.equal(store.localPath('source=s1/x.parquet'), undefined);
      await store.put('source=s1/x.parquet', Buffer.from('inside'), { contentType: 'application/vnd.apache.parquet' });
      const got = await raw.send(new GetObjectCommand({ Bucket: 'lake', Key: 'tenant-a/lake/source=s1/x.parquet' }));
      assert.equal(await got.Body?.transformToString(), 'inside');
      assert.equal(got.ContentType, 'application/vnd.apache.parquet');
      // Neighbours of the prefix, a folder marker and a name Weir refuses are not the lake's.
      for (const Key of ['tenant-a/lake-b/y', 'tenant-a/lakex', 'tenant-a/lake/dir/', 'tenant-a/lake/back\\slash', 'elsewhere/z']) {
        await raw.send(new PutObjectCommand({ Bucket: 'lake', Key, Body: 'x' }));
      }
      const listed: string[] = [];
      for await (const i of store.list()) listed.push(i.key);
      assert.deepEqual(listed, ['source=s1/x.parquet']);
      await store.delete('source=s1/x.parquet');
      const left = await raw.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'tenant-a/lake/' }));
      assert.deepEqual(left.Contents?.map((o) => o.Key).sort(), ['tenant-a/lake/back\\slash', 'tenant-a/lake/dir/']);
    } finally {
      await store.close();
    }
  });

  it('an unreachable endpoint is WEIR_BLOB_UNAVAILABLE, retriable, for every operation', async () => {
    const store = await openBlobStore(
      { kind: 's3', s3: { bucket: 'lake', endpoint: 'http://127.0.0.1:1', forcePathStyle: true, ...S3RVER_CREDENTIALS } },
      { dataDir: '/nonexistent' },
    );
    try {
      await assertEveryOperationRejects(store, isUnavailable);
    } finally {
      await store.close();
    }
  });

  it('unknown credentials are WEIR_BLOB_ACCESS_DENIED, not retriable', async () => {
    const store = await openS3BlobStore({ bucket: 'lake', endpoint: s3.endpoint, forcePathStyle: true, accessKeyId: 'NOBODY', secretAccessKey: 'x' });
    try {
      await assertEveryOperationRejects(store, isDenied);
    } finally {
      await store.close();
    }
  });

  it('a missing bucket is WEIR_BLOB_CONTAINER_NOT_FOUND, not an object that is missing', async () => {
    const store = await openS3BlobStore({ bucket: 'no-such-bucket', endpoint: s3.endpoint, forcePathStyle: true, ...S3RVER_CREDENTIALS });
    try {
      // A HEAD answer has no body to name the missing bucket: stat sees only a 404.
      const missing = isCode('WEIR_BLOB_CONTAINER_NOT_FOUND');
      await assert.rejects(store.put('x', Buffer.from('x')), missing);
      await assert.rejects(store.get('x'), missing);
      await assert.rejects(store.delete('x'), missing);
      await assert.rejects(store.list()[Symbol.asyncIterator]().next(), missing);
    } finally {
      await store.close();
    }
  });

  it('a multipart put whose part fails with a 503 is aborted: nothing visible, the parts freed, the error retriable', async () => {
    const sent: string[] = [];
    const client: S3ClientLike = {
      send: (async (command: { constructor: { name: string }; input: { PartNumber?: number } }, options?: unknown) => {
        sent.push(command.constructor.name);
        if (command.constructor.name === 'UploadPartCommand' && command.input.PartNumber === 2) {
          throw new S3ServiceException({ name: 'SlowDown', $fault: 'server', $metadata: { httpStatusCode: 503 }, message: 'Please reduce your request rate.' });
        }
        return raw.send(command as never, options as never);
      }) as S3ClientLike['send'],
      destroy: () => {},
    };
    const store: BlobStore = await openS3BlobStore({ bucket: 'lake', prefix: 'fake', client, partSize: PART, partConcurrency: 1 });
    await assert.rejects(store.put('big', randomBytes(2 * PART + 1)), isUnavailable);
    assert.deepEqual(sent, ['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'AbortMultipartUploadCommand']);
    assert.equal(await store.stat('big'), undefined);
    const small = randomBytes(100);
    await store.put('small', small);
    assert.deepEqual(await getBuffer(store, 'small'), small);
  });

  it('a connection lost in the middle of a body reaches the reader as WEIR_BLOB_UNAVAILABLE', async () => {
    const client: S3ClientLike = {
      send: (async () => {
        const body = new Readable({ read() {} });
        body.push(Buffer.alloc(100));
        setImmediate(() => body.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
        return { Body: body };
      }) as S3ClientLike['send'],
      destroy: () => {},
    };
    const store = await openS3BlobStore({ bucket: 'lake', client });
    await assert.rejects(getBuffer(store, 'x'), isUnavailable);
  });

  it('refuses a part size below S3 minimum and a page size above 1000', async () => {
    await assert.rejects(openS3BlobStore({ bucket: 'lake', partSize: MIB }), isCode('WEIR_CONFIG_INVALID'));
    await assert.rejects(openS3BlobStore({ bucket: 'lake', pageSize: 1001 }), isCode('WEIR_CONFIG_INVALID'));
  });
});
