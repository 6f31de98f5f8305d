import type { Readable } from 'node:stream';
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
import type { BlobStore, PutBody, PutOptions } from '../blob-store.js';
import { partedPut } from '../body-parts.js';
import { normalisePrefix, RemoteBlobStore, type RemoteFailure, type RemotePage } from '../remote-blob-store.js';

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
const S3_MAX_PARTS = 10_000;

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

class S3BlobStore extends RemoteBlobStore {
  readonly kind = 's3' as const;

  constructor(
    private readonly client: S3ClientLike,
    private readonly ownsClient: boolean,
    private readonly bucket: string,
    prefix: string,
    private readonly tuning: Tuning,
  ) {
    super(prefix, bucket);
  }

  protected upload(Key: string, body: PutBody, opts: PutOptions, failure: (err: unknown) => Error): Promise<number> {
    const { bucket: Bucket } = this;
    const { signal: abortSignal, contentType: ContentType } = opts;
    return partedPut<CompletedPart>(
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
            if (PartNumber > S3_MAX_PARTS) {
              throw new WeirError('WEIR_BLOB_FAILED', { store: this.kind, detail: `${Key}: a body over ${S3_MAX_PARTS} parts of ${this.tuning.partSize} bytes; raise partSize` });
            }
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
      failure,
    );
  }

  protected async download(Key: string, range: { offset: number; length?: number } | undefined, abortSignal?: AbortSignal): Promise<Readable | undefined> {
    const Range = range && `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}`;
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range }), { abortSignal });
    return r.Body as Readable | undefined;
  }

  protected async head(Key: string): Promise<{ size: number; lastModified: Date }> {
    const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
    return { size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0) };
  }

  protected async remove(Key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }));
  }

  protected async listPage(Prefix: string, ContinuationToken: string | undefined): Promise<RemotePage> {
    const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, MaxKeys: this.tuning.pageSize, ContinuationToken }));
    return {
      items: (page.Contents ?? []).map((o) => ({ name: o.Key ?? '', size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) })),
      next: page.IsTruncated ? page.NextContinuationToken : undefined,
    };
  }

  protected describe(err: unknown): Omit<RemoteFailure, 'cause'> {
    const e = err as { message?: unknown; $metadata?: { httpStatusCode?: number } } | null;
    return { status: e?.$metadata?.httpStatusCode, code: codeOf(err), message: typeof e?.message === 'string' ? e.message : String(err) };
  }

  override async close(): Promise<void> {
    if (this.ownsClient) this.client.destroy();
  }
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
