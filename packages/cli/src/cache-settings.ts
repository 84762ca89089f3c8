/**
 * Settings of the server's built-in binary cache. Each is a key of the TOML
 * config file and a DROVER_* environment variable (the environment wins;
 * config.ts reads and checks both):
 *
 *   cache_s3_bucket         DROVER_CACHE_S3_BUCKET       store NARs in this S3 bucket (else DATA_DIR/cache)
 *   cache_s3_endpoint       DROVER_CACHE_S3_ENDPOINT     S3-compatible endpoint (MinIO, Garage…); path-style
 *   cache_s3_region         DROVER_CACHE_S3_REGION       default us-east-1
 *   cache_s3_prefix         DROVER_CACHE_S3_PREFIX       key prefix inside the bucket
 *   cache_gc_grace          DROVER_CACHE_GC_GRACE        seconds a pushed path is kept before GC may take it (3600)
 *   cache_gc_interval       DROVER_CACHE_GC_INTERVAL     run GC on every cache this often, in seconds (0: never)
 *   cache_keep_deployments  DROVER_CACHE_KEEP_DEPLOYMENTS  successful deployments per agent that pin (3)
 *   cache_upload_idle_ms    DROVER_CACHE_UPLOAD_IDLE_MS  an upload body silent this long fails with 408 (10000)
 *   cache_stale_upload      DROVER_CACHE_STALE_UPLOAD    seconds after which an interrupted upload's temp file is swept (3600; at least 2× the idle timeout)
 *
 * S3 credentials stay out of the file: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
 * (or the SDK's usual chain).
 */
import type { CacheOptions } from '@drover/server';
import type { ServerSettings } from './config.js';

export function cacheOptions(settings: ServerSettings, env: NodeJS.ProcessEnv): Partial<CacheOptions> {
  const bucket = settings.cacheS3Bucket;
  return {
    ...(bucket
      ? {
          storage: {
            kind: 's3',
            bucket,
            endpoint: settings.cacheS3Endpoint,
            region: settings.cacheS3Region,
            prefix: settings.cacheS3Prefix,
            accessKeyId: env['AWS_ACCESS_KEY_ID'],
            secretAccessKey: env['AWS_SECRET_ACCESS_KEY'],
          },
        }
      : {}),
    gcGraceSeconds: settings.cacheGcGraceSeconds,
    gcIntervalSeconds: settings.cacheGcIntervalSeconds,
    gcKeepDeployments: settings.cacheKeepDeployments,
    uploadIdleMs: settings.cacheUploadIdleMs,
    staleUploadSeconds: settings.cacheStaleUploadSeconds,
  };
}
