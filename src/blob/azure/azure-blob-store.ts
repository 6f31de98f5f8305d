import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { WeirError } from '../../errors/catalogue.js';
import { checkRange, isValidKey, validateKey, type BlobInfo, type BlobStore, type GetOptions, type PutBody, type PutOptions } from '../blob-store.js';
import { partedPut } from '../body-parts.js';
import { isAbortError, mapStreamErrors, normalisePrefix, remoteError } from '../remote.js';

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

class AzureBlobStore implements BlobStore {
  readonly kind = 'azure' as const;

  constructor(
    private readonly container: AzureContainerLike,
    private readonly containerName: string,
    private readonly prefix: string,
    private readonly tuning: Tuning,
  ) {}

  async put(key: string, body: PutBody, opts: PutOptions = {}): Promise<{ key: string; size: number }> {
    const blob = this.blob(key);
    const { signal: abortSignal } = opts;
    const headers = opts.contentType ? { blobHTTPHeaders: { blobContentType: opts.contentType } } : {};
    const size = await partedPut<string>(
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
              if (codeOf(err) !== 'InvalidBlockList') throw err;
              throw new WeirError('WEIR_BLOB_UNAVAILABLE', { store: 'azure', detail: `another put of ${key} committed first; try again` }, { cause: err });
            }
          },
          // Uncommitted blocks are invisible and Azure discards them after a week.
          abort: async () => {},
        };
      },
      (err) => this.failure(err, key),
    );
    return { key, size };
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const blob = this.blob(key);
    const range = checkRange(opts.range);
    if (range === 'empty') {
      if (!(await this.stat(key))) throw new WeirError('WEIR_BLOB_NOT_FOUND', { store: this.kind, key });
      return Readable.from([]);
    }
    try {
      const r = await blob.download(range?.offset ?? 0, range?.length, { abortSignal: opts.signal });
      const body = r.readableStreamBody as Readable | undefined;
      if (!body) return Readable.from([]);
      return mapStreamErrors(body, (err) => this.failure(err, key));
    } catch (err) {
      // A range starting at or past the end of an existing blob.
      if (statusOf(err) === 416) return Readable.from([]);
      throw this.failure(err, key);
    }
  }

  async stat(key: string): Promise<BlobInfo | undefined> {
    const blob = this.blob(key);
    try {
      const p = await blob.getProperties();
      return { key, size: p.contentLength ?? 0, lastModified: p.lastModified ?? new Date(0) };
    } catch (err) {
      if (statusOf(err) === 404 && !isContainerMissing(err)) return undefined;
      throw this.failure(err, key);
    }
  }

  async *list(prefix = ''): AsyncIterable<BlobInfo> {
    const pages = this.container.listBlobsFlat({ prefix: this.prefix + prefix }).byPage({ maxPageSize: this.tuning.pageSize });
    for (;;) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.failure(err, undefined);
      }
      if (page.done) return;
      for (const b of page.value.segment.blobItems) {
        const key = b.name.slice(this.prefix.length);
        // Names Weir would refuse (folder markers, `a//b`) are someone else's blobs.
        if (!isValidKey(key)) continue;
        yield { key, size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified };
      }
    }
  }

  async delete(key: string): Promise<void> {
    const blob = this.blob(key);
    try {
      await blob.delete({ deleteSnapshots: 'include' });
    } catch (err) {
      if (statusOf(err) === 404 && !isContainerMissing(err)) return;
      throw this.failure(err, key);
    }
  }

  localPath(key: string): string | undefined {
    validateKey(key);
    return undefined;
  }

  async close(): Promise<void> {}

  private blob(key: string) {
    return this.container.getBlockBlobClient(this.prefix + validateKey(key));
  }

  private failure(err: unknown, key: string | undefined): Error {
    if (isAbortError(err) || err instanceof WeirError) return err as Error;
    const e = err as { message?: unknown };
    return remoteError(
      { status: statusOf(err), code: codeOf(err), message: typeof e.message === 'string' ? e.message : String(err), cause: err },
      { store: 'azure', container: this.containerName, ...(key !== undefined ? { key } : {}) },
    );
  }
}

interface RestErrorFields {
  statusCode?: unknown;
  code?: unknown;
  details?: { errorCode?: unknown };
  response?: { headers?: { get?(name: string): string | undefined } };
}

function statusOf(err: unknown): number | undefined {
  const s = (err as RestErrorFields | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** The storage error code; a HEAD answer has no body, so its code is only in a header. */
function codeOf(err: unknown): string | undefined {
  const e = err as RestErrorFields | null;
  const candidates = [e?.details?.errorCode, e?.response?.headers?.get?.('x-ms-error-code'), e?.code];
  return candidates.find((c): c is string => typeof c === 'string' && c !== '');
}

function isContainerMissing(err: unknown): boolean {
  return codeOf(err) === 'ContainerNotFound';
}
