/**
 * Server settings from three sources, in rising precedence: a TOML config
 * file, DROVER_* environment variables, command-line flags. Unknown keys in
 * the file are an error that names them, never silently ignored.
 *
 *     # drover.toml
 *     listen = "0.0.0.0:7700"
 *     data_dir = "/var/lib/drover"
 *     database_url = "postgres://drover@db/drover"
 *     public_url = "https://deploy.example.com"
 *     cache_s3_bucket = "drover-nars"   # the built-in binary cache: see cache-settings.ts
 *     cache_gc_interval = 86400
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { DroverError, parseDuration } from '@drover/protocol';

export interface ServerSettings {
  listen: string;
  dataDir: string;
  databaseUrl?: string | undefined;
  databaseSchema?: string | undefined;
  publicUrl?: string | undefined;
  logLevel: string;
  pingIntervalMs?: number | undefined;
  /** A request body silent this long fails with 408 (DROVER_ERR_REQUEST_TIMEOUT). */
  requestBodyIdleMs?: number | undefined;
  /** Server processes sharing the port (node:cluster); 1 = no cluster. */
  workers: number;
  /** The built-in binary cache (turned into CacheOptions by cache-settings.ts). */
  cacheS3Bucket?: string | undefined;
  cacheS3Endpoint?: string | undefined;
  cacheS3Region?: string | undefined;
  cacheS3Prefix?: string | undefined;
  cacheGcGraceSeconds?: number | undefined;
  cacheGcIntervalSeconds?: number | undefined;
  cacheKeepDeployments?: number | undefined;
  cacheUploadIdleMs?: number | undefined;
  cacheStaleUploadSeconds?: number | undefined;
  /** The most log text one deployment stores, in bytes (0: no limit). */
  maxLogBytes?: number | undefined;
  /** How long an event stream stays open before the server ends it and the client reconnects (0: no bound). */
  maxStreamSeconds?: number | undefined;
  /** Sign-ins: password hashes at once, sign-ins waiting, sign-ins per client address (auth/hash-queue.ts). */
  signInConcurrency?: number | undefined;
  signInQueue?: number | undefined;
  signInPerAddress?: number | undefined;
  /** Days audit entries are kept (0: for ever). */
  auditRetentionDays?: number | undefined;
  /** The key webhook secrets are encrypted with (default DATA_DIR/webhook.key; replicas must share one). */
  webhookKeyFile?: string | undefined;
  /** The cache handed to Cachix agents: "none" or "builtin" (docs/migrating-from-cachix.md). */
  cachixCache?: string | undefined;
}

interface Key {
  /** Name in the TOML file. */
  readonly toml: string;
  readonly env: string;
  readonly field: keyof ServerSettings;
  /** count: 1–64; whole: 0 or more, the same in the file as in the environment. */
  readonly kind: 'string' | 'duration' | 'count' | 'whole';
}

const SERVER_KEYS: readonly Key[] = [
  { toml: 'listen', env: 'DROVER_LISTEN', field: 'listen', kind: 'string' },
  { toml: 'data_dir', env: 'DROVER_DATA_DIR', field: 'dataDir', kind: 'string' },
  { toml: 'database_url', env: 'DROVER_DATABASE_URL', field: 'databaseUrl', kind: 'string' },
  { toml: 'database_schema', env: 'DROVER_DATABASE_SCHEMA', field: 'databaseSchema', kind: 'string' },
  { toml: 'public_url', env: 'DROVER_PUBLIC_URL', field: 'publicUrl', kind: 'string' },
  { toml: 'log_level', env: 'DROVER_LOG_LEVEL', field: 'logLevel', kind: 'string' },
  { toml: 'ping_interval', env: 'DROVER_PING_INTERVAL', field: 'pingIntervalMs', kind: 'duration' },
  { toml: 'request_body_idle_timeout', env: 'DROVER_REQUEST_BODY_IDLE_TIMEOUT', field: 'requestBodyIdleMs', kind: 'duration' },
  { toml: 'workers', env: 'DROVER_WORKERS', field: 'workers', kind: 'count' },
  { toml: 'max_log_bytes', env: 'DROVER_MAX_LOG_BYTES', field: 'maxLogBytes', kind: 'whole' },
  { toml: 'max_stream_seconds', env: 'DROVER_MAX_STREAM_SECONDS', field: 'maxStreamSeconds', kind: 'whole' },
  { toml: 'sign_in_concurrency', env: 'DROVER_SIGN_IN_CONCURRENCY', field: 'signInConcurrency', kind: 'count' },
  { toml: 'sign_in_queue', env: 'DROVER_SIGN_IN_QUEUE', field: 'signInQueue', kind: 'whole' },
  { toml: 'sign_in_per_address', env: 'DROVER_SIGN_IN_PER_ADDRESS', field: 'signInPerAddress', kind: 'count' },
  { toml: 'audit_retention_days', env: 'DROVER_AUDIT_RETENTION_DAYS', field: 'auditRetentionDays', kind: 'whole' },
  { toml: 'webhook_key_file', env: 'DROVER_WEBHOOK_KEY_FILE', field: 'webhookKeyFile', kind: 'string' },
  { toml: 'cachix_cache', env: 'DROVER_CACHIX_CACHE', field: 'cachixCache', kind: 'string' },
  { toml: 'cache_s3_bucket', env: 'DROVER_CACHE_S3_BUCKET', field: 'cacheS3Bucket', kind: 'string' },
  { toml: 'cache_s3_endpoint', env: 'DROVER_CACHE_S3_ENDPOINT', field: 'cacheS3Endpoint', kind: 'string' },
  { toml: 'cache_s3_region', env: 'DROVER_CACHE_S3_REGION', field: 'cacheS3Region', kind: 'string' },
  { toml: 'cache_s3_prefix', env: 'DROVER_CACHE_S3_PREFIX', field: 'cacheS3Prefix', kind: 'string' },
  { toml: 'cache_gc_grace', env: 'DROVER_CACHE_GC_GRACE', field: 'cacheGcGraceSeconds', kind: 'whole' },
  { toml: 'cache_gc_interval', env: 'DROVER_CACHE_GC_INTERVAL', field: 'cacheGcIntervalSeconds', kind: 'whole' },
  { toml: 'cache_keep_deployments', env: 'DROVER_CACHE_KEEP_DEPLOYMENTS', field: 'cacheKeepDeployments', kind: 'whole' },
  { toml: 'cache_upload_idle_ms', env: 'DROVER_CACHE_UPLOAD_IDLE_MS', field: 'cacheUploadIdleMs', kind: 'whole' },
  { toml: 'cache_stale_upload', env: 'DROVER_CACHE_STALE_UPLOAD', field: 'cacheStaleUploadSeconds', kind: 'whole' },
];

export const SERVER_DEFAULTS: ServerSettings = { listen: '127.0.0.1:7700', dataDir: './drover-data', logLevel: 'info', workers: 1 };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `value` from a file, env or flag; a bare number in the TOML file means seconds, elsewhere milliseconds. */
function convert(key: Key, value: unknown, source: string, numbersAreSeconds = false): string | number {
  if (key.kind === 'duration') {
    const ms = typeof value === 'number' ? (numbersAreSeconds ? value * 1000 : value) : typeof value === 'string' ? parseDuration(value) : null;
    if (ms === null || ms <= 0)
      throw new DroverError('DROVER_ERR_CONFIG', `${source}: ${key.toml} must be a duration such as "30s" (got ${JSON.stringify(value)})`);
    return ms;
  }
  if (key.kind === 'count') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw new DroverError('DROVER_ERR_CONFIG', `${source}: ${key.toml} must be a whole number from 1 to 64 (got ${JSON.stringify(value)})`);
    return n;
  }
  if (key.kind === 'whole') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,12}$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < 0)
      throw new DroverError('DROVER_ERR_CONFIG', `${source}: ${key.toml} must be a whole number (got ${JSON.stringify(value)})`);
    return n;
  }
  if (typeof value !== 'string' || value === '') {
    throw new DroverError('DROVER_ERR_CONFIG', `${source}: ${key.toml} must be a non-empty string (got ${JSON.stringify(value)})`);
  }
  if (key.field === 'logLevel' && !LOG_LEVELS.includes(value)) {
    throw new DroverError('DROVER_ERR_CONFIG', `${source}: log_level must be one of ${LOG_LEVELS.join(', ')}`);
  }
  return value;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DroverError('DROVER_ERR_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    return parseToml(text);
  } catch (err) {
    throw new DroverError('DROVER_ERR_CONFIG', `config file ${path} is not valid TOML: ${(err as Error).message}`);
  }
}

/**
 * Merges defaults < file < environment < flags. `flags` holds only options
 * the user actually gave.
 */
export function resolveServerSettings(input: { configFile?: string | undefined; env: NodeJS.ProcessEnv; flags: Partial<ServerSettings> }): ServerSettings {
  const settings: ServerSettings = { ...SERVER_DEFAULTS };
  const set = (field: keyof ServerSettings, value: string | number) => {
    (settings as unknown as Record<string, unknown>)[field] = value;
  };
  const file = input.configFile ?? input.env['DROVER_CONFIG'];
  if (file) {
    const known = new Map(SERVER_KEYS.map((k) => [k.toml, k]));
    const values: [Key, unknown][] = [];
    const unknown: string[] = [];
    for (const [name, value] of Object.entries(readConfigFile(file))) {
      const key = known.get(name);
      if (key) values.push([key, value]);
      else unknown.push(name);
    }
    if (unknown.length > 0) {
      throw new DroverError(
        'DROVER_ERR_CONFIG',
        `config file ${file}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${[...known.keys()].join(', ')})`,
      );
    }
    for (const [key, value] of values) set(key.field, convert(key, value, `config file ${file}`, true));
  }
  for (const key of SERVER_KEYS) {
    const value = input.env[key.env];
    if (value !== undefined && value !== '') set(key.field, convert(key, value, `environment ${key.env}`));
  }
  for (const key of SERVER_KEYS) {
    const value = input.flags[key.field];
    if (value !== undefined) set(key.field, convert(key, value, `flag --${key.toml.replace(/_/g, '-')}`));
  }
  return settings;
}
