export { openAzureBlobStore, type AzureBlobStoreOptions, type AzureContainerLike } from './azure-blob-store.js';
