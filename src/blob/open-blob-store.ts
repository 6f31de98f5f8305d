import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { WeirError } from '../errors/catalogue.js';
import type { BlobStore } from './blob-store.js';
import { openFsBlobStore } from './fs/index.js';

/**
 * Where the lake's files live, as a fragment of the configuration schema. Every option has a
 * default; an empty object is a local directory under the data directory. Empty strings mean
 * "not set".
 *
 * @example
 * ```ts
 * const ConfigSchema = Type.Object({ lake: Type.Object({ storage: LakeStorageSchema }, { default: {} }) });
 * // weir.yaml: lake: { storage: { kind: s3, s3: { bucket: events, endpoint: "http://minio:9000", forcePathStyle: true } } }
 * ```
 */
export const LakeStorageSchema = Type.Object(
  {
    kind: Type.Union([Type.Literal('fs'), Type.Literal('s3'), Type.Literal('azure')], {
      default: 'fs',
      description: 'fs: a local directory; s3: any S3-compatible store; azure: Azure Blob Storage',
    }),
    dir: Type.String({ default: '', description: 'fs: the lake directory; empty means <dataDir>/lake' }),
    s3: Type.Object(
      {
        bucket: Type.String({ default: '' }),
        prefix: Type.String({ default: '', description: 'folder inside the bucket holding the lake' }),
        region: Type.String({ default: 'us-east-1' }),
        endpoint: Type.String({ default: '', description: 'for S3-compatible stores, e.g. http://minio:9000; empty means AWS' }),
        forcePathStyle: Type.Boolean({ default: false, description: 'http://host/bucket/key addressing, which most S3-compatible stores need' }),
        accessKeyId: Type.String({ default: '', description: "empty: the AWS SDK's default credential chain" }),
        secretAccessKey: Type.String({ default: '' }),
      },
      { default: {}, additionalProperties: false },
    ),
    azure: Type.Object(
      {
        connectionString: Type.String({ default: '', description: 'account key or SAS connection string' }),
        container: Type.String({ default: '' }),
        prefix: Type.String({ default: '', description: 'folder inside the container holding the lake' }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { default: {}, additionalProperties: false },
);

export type LakeStorageConfig = Static<typeof LakeStorageSchema>;

/** The configuration as written by hand: every field optional, defaults as in the schema. */
export interface LakeStorageInput {
  kind?: LakeStorageConfig['kind'];
  dir?: string;
  s3?: Partial<LakeStorageConfig['s3']>;
  azure?: Partial<LakeStorageConfig['azure']>;
}

/**
 * Opens the configured BlobStore. Missing required settings (an S3 bucket, an Azure container
 * or connection string) are `WEIR_CONFIG_INVALID`; nothing is contacted until the first call.
 *
 * @example
 * ```ts
 * const lake = await openBlobStore(config.lake.storage, { dataDir: config.dataDir });
 * const local = await openBlobStore({}, { dataDir: '.weir' }); // .weir/lake
 * const s3 = await openBlobStore({ kind: 's3', s3: { bucket: 'events', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true } }, { dataDir: '.weir' });
 * ```
 */
export async function openBlobStore(cfg: LakeStorageInput, ctx: { dataDir: string }): Promise<BlobStore> {
  const kind = cfg.kind ?? 'fs';
  switch (kind) {
    case 'fs':
      return openFsBlobStore({ dir: cfg.dir || join(ctx.dataDir, 'lake') });
    case 's3': {
      const s3 = cfg.s3 ?? {};
      if (!s3.bucket) throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'lake storage kind s3 needs s3.bucket' });
      if (Boolean(s3.accessKeyId) !== Boolean(s3.secretAccessKey)) {
        throw new WeirError('WEIR_CONFIG_INVALID', { detail: 's3.accessKeyId and s3.secretAccessKey go together: set both or neither' });
      }
      // Vendor SDKs load on first use: a collector restarted after a crash serves sooner without them.
      const { openS3BlobStore } = await import('./s3/index.js');
      return openS3BlobStore({
        bucket: s3.bucket,
        ...(s3.prefix ? { prefix: s3.prefix } : {}),
        ...(s3.region ? { region: s3.region } : {}),
        ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
        forcePathStyle: s3.forcePathStyle ?? false,
        ...(s3.accessKeyId ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey ?? '' } : {}),
      });
    }
    case 'azure': {
      const az = cfg.azure ?? {};
      if (!az.connectionString || !az.container) {
        throw new WeirError('WEIR_CONFIG_INVALID', { detail: 'lake storage kind azure needs azure.connectionString and azure.container' });
      }
      const { openAzureBlobStore } = await import('./azure/index.js');
      return openAzureBlobStore({ connectionString: az.connectionString, container: az.container, ...(az.prefix ? { prefix: az.prefix } : {}) });
    }
    default:
      throw new WeirError('WEIR_CONFIG_INVALID', { detail: `lake storage kind must be fs, s3 or azure, not ${String(kind)}` });
  }
}
