export { openS3BlobStore, type S3BlobStoreOptions, type S3ClientLike } from './s3-blob-store.js';
