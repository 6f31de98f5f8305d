import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { WeirError } from '../../errors/catalogue.js';
import { checkRange, isValidKey, validateKey, type BlobInfo, type BlobStore, type GetOptions, type PutBody, type PutOptions } from '../blob-store.js';
import { partedPut } from '../body-parts.js';
import { isAbortError, mapStreamErrors, normalisePrefix, remoteError } from '../remote.js';

/** The part of the AWS SDK client the adapter uses; tests may pass a small fake. */
export type S3ClientLike = Pick<S3Client, 'send' | 'destroy'>;

export interface S3BlobStoreOptions {
  bucket: string;
  /** Folder inside the bucket that holds every key; listings strip it. */
  prefix?: string;
  /** A configured client; when absent one is built from the fields below and closed by `close()`. */
  client?: S3ClientLike;
  region?: string;
  /** For S3-compatible stores: `http://minio:9000`. */
  endpoint?: string;
  /** `http://host/bucket/key` addressing, which most S3-compatible stores need. */
  forcePathStyle?: boolean;
  /** Static credentials; without them the SDK's default chain (environment, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Attempts per request by the SDK's own retry, default 3. */
  maxAttempts?: number;
  /** A body larger than this goes up as a multipart upload of parts this big; at least 5 MiB (S3's minimum). */
  partSize?: number;
  /** Parts uploading at once. */
  partConcurrency?: number;
  /** Keys per list request; at most 1000. */
  pageSize?: number;
}

const MIB = 1024 * 1024;
const S3_MIN_PART = 5 * MIB;

/**
 * A BlobStore in an S3 bucket (AWS, MinIO, Ceph, R2, ...). Puts up to `partSize` are one
 * PutObject; larger bodies are a multipart upload that is aborted on failure, so an object
 * appears only complete.
 *
 * @example
 * ```ts
 * const store = await openS3BlobStore({ bucket: 'events', prefix: 'lake', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
 * await store.put('source=s1/date=2026-11-22/hour=14/00000-00099.parquet', bytes);
 * ```
 */
export async function openS3BlobStore(opts: S3BlobStoreOptions): Promise<BlobStore> {
  if (!opts.bucket) throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'the S3 blob store needs a bucket' });
  const partSize = opts.partSize ?? 8 * MIB;
  if (partSize < S3_MIN_PART) throw new WeirError('WEIR_CONFIG_INVALID', { detail: `S3 partSize ${partSize} is below S3's minimum part size of 5 MiB` });
  const pageSize = opts.pageSize ?? 1000;
  if (pageSize < 1 || pageSize > 1000) throw new WeirError('WEIR_CONFIG_INVALID', { detail: `S3 pageSize ${pageSize} is not within 1..1000` });
  return new S3BlobStore(opts.client ?? buildClient(opts), !opts.client, opts.bucket, normalisePrefix(opts.prefix), {
    partSize,
    partConcurrency: opts.partConcurrency ?? 4,
    pageSize,
  });
}

function buildClient(opts: S3BlobStoreOptions): S3Client {
  return new S3Client({
    region: opts.region || 'us-east-1',
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle ?? false,
    maxAttempts: opts.maxAttempts ?? 3,
    ...(opts.accessKeyId ? { credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey ?? '' } } : {}),
    // Without timeouts a silent server stalls a put for ever; these bound the wait per request.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
    // S3-compatible stores differ in their support of the SDK's newer default checksums;
    // send and check them only where the API requires them.
    ...(opts.endpoint ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  });
}

interface Tuning {
  partSize: number;
  partConcurrency: number;
  pageSize: number;
}

class S3BlobStore implements BlobStore {
  readonly kind = 's3' as const;

  constructor(
    private readonly client: S3ClientLike,
    private readonly ownsClient: boolean,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly tuning: Tuning,
  ) {}

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<{ key: string; size: number }> {
    const Key = this.prefix + validateKey(key);
    const { bucket: Bucket } = this;
    const { signal: abortSignal, contentType: ContentType } = opts;
    const size = await partedPut<CompletedPart>(
      body,
      { partSize: this.tuning.partSize, concurrency: this.tuning.partConcurrency, ...(abortSignal ? { signal: abortSignal } : {}) },
      async (data) => {
        await this.client.send(new PutObjectCommand({ Bucket, Key, Body: data, ContentLength: data.length, ContentType }), { abortSignal });
      },
      async () => {
        const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket, Key, ContentType }), { abortSignal });
        return {
          part: async (p) => {
            const PartNumber = p.index + 1;
            const r = await this.client.send(
              new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: p.data, ContentLength: p.data.length }),
              { abortSignal },
            );
            return { PartNumber, ETag: r.ETag };
          },
          complete: async (Parts) => {
            await this.client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }), { abortSignal });
          },
          // Without the caller's signal: the parts must be freed even after an abort.
          abort: async () => {
            await this.client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
          },
        };
      },
      (err) => this.failure(err, key),
    );
    return { key, size };
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const Key = this.prefix + validateKey(key);
    const range = checkRange(opts.range);
    if (range === 'empty') {
      if (!(await this.stat(key))) throw new WeirError('WEIR_BLOB_NOT_FOUND', { store: this.kind, key });
      return Readable.from([]);
    }
    const Range = range && `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`;
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }), { abortSignal: opts.signal });
      const body = r.Body as Readable | undefined;
      if (!body) return Readable.from([]);
      return mapStreamErrors(body, (err) => this.failure(err, key));
    } catch (err) {
      // A range starting at or past the end of an existing object.
      if (statusOf(err) === 416) return Readable.from([]);
      throw this.failure(err, key);
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const Key = this.prefix + validateKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
      return { key, size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0) };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw this.failure(err, key);
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    let ContinuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, MaxKeys: this.tuning.pageSize, ContinuationToken }),
        );
      } catch (err) {
        throw this.failure(err, undefined);
      }
      for (const o of page.Contents ?? []) {
        const key = o.Key?.slice(this.prefix.length);
        // Folder markers (`dir/`) and names Weir would refuse are someone else's objects.
        if (key === undefined || !isValidKey(key)) continue;
        yield { key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async delete(key: string): Promise<void> {
    const Key = this.prefix + validateKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (statusOf(err) === 404 && codeOf(err) !== 'NoSuchBucket') return;
      throw this.failure(err, key);
    }
  }

  localPath(key: string): string | undefined {
    validateKey(key);
    return undefined;
  }

  async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }

  private failure(err: unknown, key: string | undefined): Error {
    if (isAbortError(err) || err instanceof WeirError) return err as Error;
    const e = err as { message?: unknown };
    return remoteError(
      { status: statusOf(err), code: codeOf(err), message: typeof e.message === 'string' ? e.message : String(err), cause: err },
      { store: 's3', container: this.bucket, ...(key !== undefined ? { key } : {}) },
    );
  }
}

function statusOf(err: unknown): number | undefined {
  const m = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return m?.httpStatusCode;
}

/** The service's code, else a network code from the error or its cause. */
function codeOf(err: unknown): string | undefined {
  const e = err as { name?: unknown; code?: unknown; cause?: unknown; $metadata?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.code === 'string') return e.code;
  if (e.$metadata !== undefined && typeof e.name === 'string' && e.name !== 'Error') return e.name;
  if (typeof e.name === 'string' && (e.name === 'TimeoutError' || e.name === 'CredentialsProviderError')) return e.name;
  return e.cause !== undefined && e.cause !== err ? codeOf(e.cause) : undefined;
}
