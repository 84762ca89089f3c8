/**
 * Opens the NAR storage a configuration names. Each backend is imported only
 * when chosen, so a server on local storage never loads the S3 SDK.
 */
import type { NarStorage, StorageConfig } from './storage.js';

export async function openStorage(config: StorageConfig): Promise<NarStorage> {
  if (config.kind === 's3') return (await import('./s3.js')).S3Storage.open(config);
  return (await import('./local.js')).LocalStorage.open(config);
}
