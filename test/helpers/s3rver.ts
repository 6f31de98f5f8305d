import { createRequire } from 'node:module';
import { startChildServer } from './child-server.js';

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

// Runs in the child: argv holds s3rver's path, the data directory and the bucket names.
const CHILD = `
const [s3rverPath, directory, buckets] = process.argv.slice(1);
const S3rver = require(s3rverPath);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: JSON.parse(buckets).map((name) => ({ name })) });
server.run().then((a) => console.log('s3rver listening on ' + a.port), (err) => { console.error(err); process.exit(1); });
`;

/**
 * A fake S3 (s3rver 3.7) as a child process on a free port, storing into a temporary directory
 * that `stop()` removes, with the given buckets. A child of its own because s3rver encrypts the
 * continuation tokens of paged listings with DES, which Node's OpenSSL 3 offers only with
 * `--openssl-legacy-provider`; and the fake's work then runs beside the test's event loop.
 *
 * @example
 * ```ts
 * const s3 = await startS3rver(['lake']);
 * const store = await openS3BlobStore({ bucket: 'lake', endpoint: s3.endpoint, forcePathStyle: true, ...S3RVER_CREDENTIALS });
 * await s3.stop();
 * ```
 */
export async function startS3rver(buckets: string[]): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const srv = await startChildServer(
    'weir-s3rver-',
    (dir) => ['--openssl-legacy-provider', '-e', CHILD, s3rverPath, dir, JSON.stringify(buckets)],
    /s3rver listening on (\d+)/,
  );
  return { endpoint: `http://127.0.0.1:${srv.ready}`, stop: srv.stop };
}
