/**
 * NARs in an S3-compatible object store (AWS S3, MinIO, Garage, moto…),
 * with path-style addressing. Uploads stream through a multipart upload with
 * bounded parts, so memory stays flat for large NARs; an upload that fails
 * is aborted and leaves no object.
 */
import { DeleteObjectsCommand, GetObjectCommand, NoSuchKey, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { DroverError } from '@drover/protocol';
import type { NarStorage, S3StorageConfig } from './storage.js';

const PART_BYTES = 8 * 1024 * 1024;

export class S3Storage implements NarStorage {
  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    readonly description: string,
  ) {}

  static async open(config: S3StorageConfig): Promise<S3Storage> {
    const client = new S3Client({
      region: config.region ?? 'us-east-1',
      forcePathStyle: true,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.accessKeyId && config.secretAccessKey ? { credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey } } : {}),
    });
    const prefix = config.prefix ? config.prefix.replace(/\/?$/, '/') : '';
    return new S3Storage(client, config.bucket, prefix, `s3://${config.bucket}/${prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`);
  }

  async write(key: string, body: Readable): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.prefix + key, Body: body, ContentType: 'application/x-nix-nar' },
      partSize: PART_BYTES,
      queueSize: 2,
      leavePartsOnError: false,
    });
    body.once('error', () => void upload.abort().catch(() => {}));
    await upload.done();
  }

  async read(key: string): Promise<Readable | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      if (res.Body instanceof Readable) return res.Body;
      throw new DroverError('DROVER_ERR_INTERNAL', `S3 returned no readable body for ${key}`);
    } catch (err) {
      if (err instanceof NoSuchKey || (err instanceof Error && err.name === 'NoSuchKey')) return null;
      throw err;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true } }));
    }
  }

  /** Nothing to do here: a failed upload is aborted, and what a crash leaves is incomplete multipart uploads, which the bucket's AbortIncompleteMultipartUpload lifecycle rule removes. */
  async removeStaleUploads(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
