import { join } from 'node:path';
import type { WeirConfig } from '../config/schema.js';
import type { BlobStore } from '../blob/blob-store.js';
import { openBlobStore } from '../blob/open-blob-store.js';

/**
 * The lake's BlobStore from the configuration: a directory under the data directory by default,
 * an S3-compatible bucket or an Azure Blob container otherwise.
 *
 * @example
 * ```ts
 * const blob = await openLake(config); // fs at .weir/lake unless lake.storage says otherwise
 * ```
 */
export async function openLake(config: WeirConfig): Promise<BlobStore> {
  const l = config.lake;
  return openBlobStore(
    {
      kind: l.storage as 'fs' | 's3' | 'azure',
      dir: l.dir === '' ? join(config.dataDir, 'lake') : l.dir,
      s3: {
        bucket: l.s3Bucket,
        prefix: l.prefix,
        region: l.s3Region,
        endpoint: l.s3Endpoint === '' ? undefined : l.s3Endpoint,
        forcePathStyle: l.s3ForcePathStyle,
        accessKeyId: l.s3AccessKeyId === '' ? undefined : l.s3AccessKeyId,
        secretAccessKey: l.s3SecretAccessKey === '' ? undefined : l.s3SecretAccessKey,
      },
      azure: { connectionString: l.azureConnectionString, container: l.azureContainer, prefix: l.prefix },
    },
    { dataDir: config.dataDir },
  );
}

/** Where remote lake partitions are cached for `weir query --lake` and reloads. */
export function lakeCacheDir(config: WeirConfig): string {
  return join(config.dataDir, 'lake-cache');
}
