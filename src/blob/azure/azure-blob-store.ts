import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { WeirError } from '../../errors/catalogue.js';
import type { BlobStore, PutBody, PutOptions } from '../blob-store.js';
import { partedPut } from '../body-parts.js';
import { normalisePrefix, RemoteBlobStore, type RemoteFailure, type RemotePage } from '../remote-blob-store.js';

/** The part of the Azure SDK's container client the adapter uses; tests may pass a small fake. */
export type AzureContainerLike = Pick<ContainerClient, 'getBlockBlobClient' | 'listBlobsFlat'>;

export interface AzureBlobStoreOptions {
  container: string;
  /** Folder inside the container that holds every key; listings strip it. */
  prefix?: string;
  /** A configured container client; when absent one is built from `connectionString`. */
  client?: AzureContainerLike;
  /** An account key or SAS connection string (`DefaultEndpointsProtocol=https;AccountName=…`). */
  connectionString?: string;
  /** Tries per request by the SDK's own retry, default 3. */
  maxTries?: number;
  /** A body larger than this is staged as blocks this big and committed at the end. */
  blockSize?: number;
  /** Blocks uploading at once. */
  blockConcurrency?: number;
  /** Blobs per list request; at most 5000. */
  pageSize?: number;
}

const MIB = 1024 * 1024;

/**
 * A BlobStore in an Azure Blob Storage container (or Azurite). Puts up to `blockSize` are one
 * Put Blob; larger bodies are staged blocks committed by one Put Block List, so a blob appears
 * only complete; blocks of a failed put stay uncommitted, invisible, and expire.
 *
 * @example
 * ```ts
 * const store = await openAzureBlobStore({ connectionString: process.env.AZURE_STORAGE_CONNECTION_STRING, container: 'lake' });
 * await store.put('source=s1/date=2026-11-22/hour=14/00000-00099.parquet', bytes);
 * ```
 */
export async function openAzureBlobStore(opts: AzureBlobStoreOptions): Promise<BlobStore> {
  if (!opts.container) throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'the Azure blob store needs a container' });
  const pageSize = opts.pageSize ?? 5000;
  if (pageSize < 1 || pageSize > 5000) throw new WeirError('WEIR_CONFIG_INVALID', { detail: `Azure pageSize ${pageSize} is not within 1..5000` });
  const blockSize = opts.blockSize ?? 8 * MIB;
  if (blockSize < 1 || blockSize > 4000 * MIB) throw new WeirError('WEIR_CONFIG_INVALID', { detail: `Azure blockSize ${blockSize} is not within 1 byte..4000 MiB` });
  return new AzureBlobStore(opts.client ?? buildClient(opts), opts.container, normalisePrefix(opts.prefix), {
    blockSize,
    blockConcurrency: opts.blockConcurrency ?? 4,
    pageSize,
  });
}

function buildClient(opts: AzureBlobStoreOptions): ContainerClient {
  if (!opts.connectionString) throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'the Azure blob store needs a connectionString' });
  let service: BlobServiceClient;
  try {
    service = BlobServiceClient.fromConnectionString(opts.connectionString, {
      retryOptions: { maxTries: opts.maxTries ?? 3, retryDelayInMs: 500, maxRetryDelayInMs: 8_000 },
    });
  } catch (err) {
    // The message may quote the connection string, secret included: keep only its kind.
    throw new WeirError('WEIR_CONFIG_INVALID', { detail: `the Azure connectionString is not valid (${(err as Error).name})` });
  }
  return service.getContainerClient(opts.container);
}

interface Tuning {
  blockSize: number;
  blockConcurrency: number;
  pageSize: number;
}

class AzureBlobStore extends RemoteBlobStore {
  readonly kind = 'azure' as const;

  constructor(
    private readonly client: AzureContainerLike,
    containerName: string,
    prefix: string,
    private readonly tuning: Tuning,
  ) {
    super(prefix, containerName);
  }

  protected upload(name: string, body: PutBody, opts: PutOptions, failure: (err: unknown) => Error): Promise<number> {
    const blob = this.client.getBlockBlobClient(name);
    const { signal: abortSignal } = opts;
    const headers = opts.contentType ? { blobHTTPHeaders: { blobContentType: opts.contentType } } : {};
    return partedPut<string>(
      body,
      { partSize: this.tuning.blockSize, concurrency: this.tuning.blockConcurrency, ...(abortSignal ? { signal: abortSignal } : {}) },
      async (data) => {
        await blob.upload(data, data.length, { ...headers, abortSignal });
      },
      async () => {
        // Block ids are per blob and must all have one length; a fresh tag per put keeps two
        // concurrent puts of one key from mixing their blocks.
        const tag = randomBytes(6).toString('hex');
        return {
          part: async (p) => {
            const id = Buffer.from(`${tag}-${String(p.index).padStart(6, '0')}`).toString('base64');
            await blob.stageBlock(id, p.data, p.data.length, { abortSignal });
            return id;
          },
          complete: async (ids) => {
            try {
              await blob.commitBlockList(ids, { ...headers, abortSignal });
            } catch (err) {
              // Committing a blob discards every uncommitted block, also those of another put
              // of the same key under way: that put lost the race and may simply be tried again.
              if (this.describe(err).code !== 'InvalidBlockList') throw err;
              throw new WeirError('WEIR_BLOB_UNAVAILABLE', { store: this.kind, detail: `another put of ${name} committed first; try again` }, { cause: err });
            }
          },
          // Uncommitted blocks are invisible and Azure discards them after a week.
          abort: async () => {},
        };
      },
      failure,
    );
  }

  protected async download(name: string, range: { offset: number; length?: number } | undefined, abortSignal?: AbortSignal): Promise<Readable | undefined> {
    const r = await this.client.getBlockBlobClient(name).download(range?.offset ?? 0, range?.length, { abortSignal });
    return r.readableStreamBody as Readable | undefined;
  }

  protected async head(name: string): Promise<{ size: number; lastModified: Date }> {
    const p = await this.client.getBlockBlobClient(name).getProperties();
    return { size: p.contentLength ?? 0, lastModified: p.lastModified ?? new Date(0) };
  }

  protected async remove(name: string): Promise<void> {
    await this.client.getBlockBlobClient(name).delete({ deleteSnapshots: 'include' });
  }

  protected async listPage(prefix: string, continuationToken: string | undefined): Promise<RemotePage> {
    const pages = this.client.listBlobsFlat({ prefix }).byPage({ maxPageSize: this.tuning.pageSize, ...(continuationToken ? { continuationToken } : {}) });
    const page = await pages.next();
    if (page.done) return { items: [], next: undefined };
    return {
      items: page.value.segment.blobItems.map((b) => ({ name: b.name, size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified })),
      next: page.value.continuationToken || undefined,
    };
  }

  /** A HEAD answer has no body, so its storage error code is only in a header. */
  protected describe(err: unknown): Omit<RemoteFailure, 'cause'> {
    const e = err as RestErrorFields | null;
    const code = [e?.details?.errorCode, e?.response?.headers?.get?.('x-ms-error-code'), e?.code].find((c): c is string => typeof c === 'string' && c !== '');
    return { status: typeof e?.statusCode === 'number' ? e.statusCode : undefined, code, message: typeof e?.message === 'string' ? e.message : String(err) };
  }
}

interface RestErrorFields {
  statusCode?: unknown;
  code?: unknown;
  message?: unknown;
  details?: { errorCode?: unknown };
  response?: { headers?: { get?(name: string): string | undefined } };
}
