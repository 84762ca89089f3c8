/**
 * Settings of the server's built-in binary cache, from the environment:
 *
 *   DROVER_CACHE_S3_BUCKET      store NARs in this S3 bucket (else DATA_DIR/cache)
 *   DROVER_CACHE_S3_ENDPOINT    S3-compatible endpoint (MinIO, Garage…); path-style
 *   DROVER_CACHE_S3_REGION      default us-east-1
 *   DROVER_CACHE_S3_PREFIX      key prefix inside the bucket
 *   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   credentials (the SDK's usual chain)
 *   DROVER_CACHE_GC_GRACE       seconds a pushed path is kept before GC may take it (3600)
 *   DROVER_CACHE_GC_INTERVAL    run GC on every cache this often, in seconds (0: never)
 *   DROVER_CACHE_KEEP_DEPLOYMENTS  successful deployments per agent that pin (3)
 *   DROVER_CACHE_UPLOAD_IDLE_MS an upload body silent this long fails with 408 (10000)
 */
import { DroverError } from '@drover/protocol';
import type { CacheOptions } from '@drover/server';

function count(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,12}$/.test(v)) throw new DroverError('DROVER_ERR_CONFIG', `${name} must be a whole number (got ${JSON.stringify(v)})`);
  return Number(v);
}

export function cacheSettingsFromEnv(env: NodeJS.ProcessEnv): Partial<CacheOptions> {
  const bucket = env['DROVER_CACHE_S3_BUCKET'];
  return {
    ...(bucket
      ? {
          storage: {
            kind: 's3',
            bucket,
            endpoint: env['DROVER_CACHE_S3_ENDPOINT'],
            region: env['DROVER_CACHE_S3_REGION'],
            prefix: env['DROVER_CACHE_S3_PREFIX'],
            accessKeyId: env['AWS_ACCESS_KEY_ID'],
            secretAccessKey: env['AWS_SECRET_ACCESS_KEY'],
          },
        }
      : {}),
    gcGraceSeconds: count(env, 'DROVER_CACHE_GC_GRACE'),
    gcIntervalSeconds: count(env, 'DROVER_CACHE_GC_INTERVAL'),
    gcKeepDeployments: count(env, 'DROVER_CACHE_KEEP_DEPLOYMENTS'),
    uploadIdleMs: count(env, 'DROVER_CACHE_UPLOAD_IDLE_MS'),
  };
}
