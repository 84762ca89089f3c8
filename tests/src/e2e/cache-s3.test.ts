/**
 * The built-in binary cache end to end with NARs in S3-compatible object
 * storage: a real `moto_server` started here (skipped, saying so, when it is
 * not installed), a bucket created with the AWS SDK, the same suite as on
 * local storage, and a check that the NAR objects really are in the bucket.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { freePort, waitFor } from '../support/drover.js';
import { defineCacheSuite } from './cache-suite.js';

const available = spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status === 0;
let moto: ChildProcess | undefined;
let endpoint = '';
const bucket = 'drover-nars';
const client = () => new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

if (!available) {
  test('S3 storage', { skip: 'moto_server is not installed (pip install "moto[server]"); the S3 suite did not run' }, () => {});
} else {
  defineCacheSuite('sqlite', {
    label: 'S3 (moto_server)',
    serverEnv: async () => {
      const port = await freePort();
      endpoint = `http://127.0.0.1:${port}`;
      moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      await waitFor('moto_server', async () => (await fetch(endpoint).catch(() => null))?.ok, 30_000, 200);
      await client().send(new CreateBucketCommand({ Bucket: bucket }));
      return {
        DROVER_CACHE_S3_BUCKET: bucket,
        DROVER_CACHE_S3_ENDPOINT: endpoint,
        DROVER_CACHE_S3_PREFIX: 'e2e',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      };
    },
  });
  test('NARs are objects in the bucket', async () => {
    const listed = await client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'e2e/nar/' }));
    assert.ok((listed.KeyCount ?? 0) > 0, 'the suite stored NARs in S3');
  });
  after(() => moto?.kill('SIGTERM'));
}
