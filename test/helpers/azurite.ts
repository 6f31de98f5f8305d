import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { startChildServer } from './child-server.js';

/** Azurite's well-known development account and key. */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A connection string for the development account at `blobEndpoint` (`http://127.0.0.1:<port>`). */
export function azuriteConnectionString(blobEndpoint: string, key = AZURITE_KEY): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${key};BlobEndpoint=${blobEndpoint}/${AZURITE_ACCOUNT};`;
}

/**
 * Azurite's blob service as a child process on a port it picks (and prints), storing into a
 * temporary directory that `stop()` removes.
 *
 * @example
 * ```ts
 * const az = await startAzurite();
 * const store = await openAzureBlobStore({ connectionString: az.connectionString, container: 'lake' });
 * await az.stop();
 * ```
 */
export async function startAzurite(): Promise<{ endpoint: string; connectionString: string; stop(): Promise<void> }> {
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const srv = await startChildServer(
    'weir-azurite-',
    (dir) => [main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir, '--skipApiVersionCheck', '--loose', '--silent', '--disableTelemetry'],
    /listens on (http:\/\/127\.0\.0\.1:\d+)/,
  );
  return { endpoint: srv.ready, connectionString: azuriteConnectionString(srv.ready), stop: srv.stop };
}
