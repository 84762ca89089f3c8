/**
 * Server settings (config.ts): resolveServerSettings merges defaults < TOML
 * file < DROVER_* environment < flags; unknown TOML keys, invalid TOML, an
 * unreadable file, bad durations, bad log levels and non-string values are
 * DROVER_ERR_CONFIG errors naming their source and key. The built-in binary
 * cache's keys (cache_*) follow the same rules and become CacheOptions
 * through cache-settings.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DroverError } from '@drover/protocol';
import { cacheOptions } from '../src/cache-settings.js';
import { resolveServerSettings, SERVER_DEFAULTS, type ServerSettings } from '../src/config.js';

let dir: string;
let n = 0;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'drover-config-test-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tomlFile(text: string): string {
  const path = join(dir, `drover-${++n}.toml`);
  writeFileSync(path, text);
  return path;
}

function resolve(input: { configFile?: string; env?: NodeJS.ProcessEnv; flags?: Partial<ServerSettings> }): ServerSettings {
  return resolveServerSettings({ configFile: input.configFile, env: input.env ?? {}, flags: input.flags ?? {} });
}

function configError(fn: () => unknown): DroverError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DroverError, `expected a DroverError, got ${String(err)}`);
    assert.equal(err.code, 'DROVER_ERR_CONFIG');
    return err;
  }
  assert.fail('expected DROVER_ERR_CONFIG');
}

const FULL_FILE = `
listen = "0.0.0.0:7000"
data_dir = "/var/lib/drover"
database_url = "postgres://drover@db/drover"
database_schema = "drover"
public_url = "https://deploy.example.com"
log_level = "warn"
ping_interval = "45s"
workers = 4
`;

describe('precedence', () => {
  test('defaults alone', () => {
    assert.deepEqual(resolve({}), SERVER_DEFAULTS);
    assert.deepEqual(resolve({}), { listen: '127.0.0.1:7700', dataDir: './drover-data', logLevel: 'info', workers: 1 });
  });

  test('the file overrides defaults, for every key', () => {
    assert.deepEqual(resolve({ configFile: tomlFile(FULL_FILE) }), {
      listen: '0.0.0.0:7000',
      dataDir: '/var/lib/drover',
      databaseUrl: 'postgres://drover@db/drover',
      databaseSchema: 'drover',
      publicUrl: 'https://deploy.example.com',
      logLevel: 'warn',
      pingIntervalMs: 45_000,
      workers: 4,
    });
  });

  test('the environment overrides the file; the file still fills what the environment leaves out', () => {
    const settings = resolve({
      configFile: tomlFile(FULL_FILE),
      env: { DROVER_LISTEN: '127.0.0.1:8000', DROVER_LOG_LEVEL: 'debug', DROVER_PING_INTERVAL: '1m', DROVER_DATABASE_URL: '' },
    });
    assert.equal(settings.listen, '127.0.0.1:8000');
    assert.equal(settings.logLevel, 'debug');
    assert.equal(settings.pingIntervalMs, 60_000);
    assert.equal(settings.dataDir, '/var/lib/drover');
    assert.equal(settings.databaseUrl, 'postgres://drover@db/drover', 'an empty variable does not override');
  });

  test('flags override the environment and the file', () => {
    const settings = resolve({
      configFile: tomlFile(FULL_FILE),
      env: { DROVER_LISTEN: '127.0.0.1:8000', DROVER_DATA_DIR: '/env/data', DROVER_PUBLIC_URL: 'https://env.example.com' },
      flags: { listen: '[::1]:9000', publicUrl: 'https://flag.example.com' },
    });
    assert.equal(settings.listen, '[::1]:9000');
    assert.equal(settings.publicUrl, 'https://flag.example.com');
    assert.equal(settings.dataDir, '/env/data');
    assert.equal(settings.logLevel, 'warn');
  });

  test('every DROVER_* variable is read', () => {
    const settings = resolve({
      env: {
        DROVER_LISTEN: 'h:1',
        DROVER_DATA_DIR: '/d',
        DROVER_DATABASE_URL: 'postgres://x/y',
        DROVER_DATABASE_SCHEMA: 's',
        DROVER_PUBLIC_URL: 'https://p',
        DROVER_LOG_LEVEL: 'trace',
        DROVER_PING_INTERVAL: '250ms',
        DROVER_WORKERS: '3',
      },
    });
    assert.deepEqual(settings, {
      listen: 'h:1',
      dataDir: '/d',
      databaseUrl: 'postgres://x/y',
      databaseSchema: 's',
      publicUrl: 'https://p',
      logLevel: 'trace',
      pingIntervalMs: 250,
      workers: 3,
    });
  });

  test('workers must be a whole number from 1 to 64', () => {
    for (const bad of ['0', '65', '2.5', 'many']) {
      assert.match(configError(() => resolve({ env: { DROVER_WORKERS: bad } })).message, /workers must be a whole number from 1 to 64/);
    }
    assert.match(configError(() => resolve({ configFile: tomlFile('workers = -1\n') })).message, /workers must be a whole number/);
  });

  test('DROVER_CONFIG names the file when no config file is given; an explicit one wins', () => {
    const fromEnv = tomlFile('listen = "10.0.0.1:1"\n');
    const explicit = tomlFile('listen = "10.0.0.2:2"\n');
    assert.equal(resolve({ env: { DROVER_CONFIG: fromEnv } }).listen, '10.0.0.1:1');
    assert.equal(resolve({ configFile: explicit, env: { DROVER_CONFIG: fromEnv } }).listen, '10.0.0.2:2');
  });

  test('a bare number in the file is seconds', () => {
    assert.equal(resolve({ configFile: tomlFile('ping_interval = 20\n') }).pingIntervalMs, 20_000);
    assert.equal(resolve({ configFile: tomlFile('ping_interval = "1h30m"\n') }).pingIntervalMs, 5_400_000);
  });

  test('a pingIntervalMs flag is taken as milliseconds', () => {
    assert.equal(resolve({ flags: { pingIntervalMs: 5000 } }).pingIntervalMs, 5000);
  });
});

describe('errors', () => {
  test('unknown keys are an error naming each of them', () => {
    const file = tomlFile('listen = "0.0.0.0:1"\nlisten_addr = "x"\ndatabase = "y"\n[server]\nport = 1\n');
    const err = configError(() => resolve({ configFile: file }));
    assert.ok(err.message.startsWith(`config file ${file}: unknown keys `), err.message);
    for (const key of ['"listen_addr"', '"database"', '"server"']) assert.ok(err.message.includes(key), `names ${key}: ${err.message}`);
    assert.ok(!err.message.includes('"listen"'), 'does not name the known key');
    assert.match(err.message, /known: listen, data_dir, database_url, database_schema, public_url, log_level, ping_interval/);
  });

  test('a single unknown key', () => {
    const err = configError(() => resolve({ configFile: tomlFile('dataDir = "/x"\n') }));
    assert.match(err.message, /: unknown key "dataDir" \(known: /);
  });

  test('invalid TOML names the file', () => {
    const file = tomlFile('listen = "0.0.0.0:1\n');
    const err = configError(() => resolve({ configFile: file }));
    assert.ok(err.message.startsWith(`config file ${file} is not valid TOML: `), err.message);
  });

  test('a duplicate key is invalid TOML', () => {
    configError(() => resolve({ configFile: tomlFile('listen = "a:1"\nlisten = "b:2"\n') }));
  });

  test('a missing file', () => {
    const file = join(dir, 'does-not-exist.toml');
    const err = configError(() => resolve({ configFile: file }));
    assert.ok(err.message.startsWith(`cannot read config file ${file}: `), err.message);
  });

  test('bad durations, from each source', () => {
    const file = tomlFile('ping_interval = "5x"\n');
    assert.match(
      configError(() => resolve({ configFile: file })).message,
      new RegExp(`^config file ${file}: ping_interval must be a duration such as "30s" \\(got "5x"\\)`),
    );
    assert.match(
      configError(() => resolve({ env: { DROVER_PING_INTERVAL: 'soon' } })).message,
      /^environment DROVER_PING_INTERVAL: ping_interval must be a duration/,
    );
    assert.match(configError(() => resolve({ configFile: tomlFile('ping_interval = 0\n') })).message, /ping_interval must be a duration/);
    assert.match(configError(() => resolve({ configFile: tomlFile('ping_interval = "0s"\n') })).message, /ping_interval must be a duration/);
    assert.match(configError(() => resolve({ configFile: tomlFile('ping_interval = true\n') })).message, /ping_interval must be a duration/);
  });

  test('bad log levels, from each source', () => {
    const file = tomlFile('log_level = "verbose"\n');
    assert.match(
      configError(() => resolve({ configFile: file })).message,
      /^config file .*: log_level must be one of fatal, error, warn, info, debug, trace, silent$/,
    );
    assert.match(configError(() => resolve({ env: { DROVER_LOG_LEVEL: 'INFO' } })).message, /^environment DROVER_LOG_LEVEL: log_level must be one of/);
    assert.match(configError(() => resolve({ flags: { logLevel: 'loud' } })).message, /^flag --log-level: log_level must be one of/);
  });

  test('the environment is checked even when a flag overrides it', () => {
    configError(() => resolve({ env: { DROVER_LOG_LEVEL: 'loud' }, flags: { logLevel: 'info' } }));
  });

  test('non-string and empty values', () => {
    assert.match(configError(() => resolve({ configFile: tomlFile('listen = 7700\n') })).message, /listen must be a non-empty string \(got 7700\)/);
    assert.match(configError(() => resolve({ configFile: tomlFile('data_dir = ""\n') })).message, /data_dir must be a non-empty string/);
    assert.match(configError(() => resolve({ flags: { dataDir: '' } })).message, /^flag --data-dir: data_dir must be a non-empty string/);
  });
});

describe('binary cache keys', () => {
  const CACHE_FILE = `
cache_s3_bucket = "nars"
cache_s3_endpoint = "http://127.0.0.1:9000"
cache_s3_region = "eu-west-1"
cache_s3_prefix = "drover"
cache_gc_grace = 600
cache_gc_interval = 86400
cache_keep_deployments = 5
cache_upload_idle_ms = 2500
cache_stale_upload = 900
`;

  test('every cache key is read from the file and becomes a cache option', () => {
    const settings = resolve({ configFile: tomlFile(CACHE_FILE) });
    assert.deepEqual(cacheOptions(settings, { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' }), {
      storage: {
        kind: 's3',
        bucket: 'nars',
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
        prefix: 'drover',
        accessKeyId: 'id',
        secretAccessKey: 'secret',
      },
      gcGraceSeconds: 600,
      gcIntervalSeconds: 86_400,
      gcKeepDeployments: 5,
      uploadIdleMs: 2500,
      staleUploadSeconds: 900,
    });
  });

  test('DROVER_CACHE_* variables override the file, which fills the rest', () => {
    const settings = resolve({
      configFile: tomlFile(CACHE_FILE),
      env: { DROVER_CACHE_S3_BUCKET: 'other', DROVER_CACHE_GC_GRACE: '0', DROVER_CACHE_UPLOAD_IDLE_MS: '', DROVER_CACHE_KEEP_DEPLOYMENTS: ' 7 ' },
    });
    const options = cacheOptions(settings, {});
    assert.deepEqual(options.storage, {
      kind: 's3',
      bucket: 'other',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      prefix: 'drover',
      accessKeyId: undefined,
      secretAccessKey: undefined,
    });
    assert.equal(options.gcGraceSeconds, 0, 'zero is a value, not "unset"');
    assert.equal(options.gcKeepDeployments, 7);
    assert.equal(options.uploadIdleMs, 2500, 'an empty variable does not override');
    assert.equal(options.gcIntervalSeconds, 86_400);
  });

  test('without a bucket the NARs stay local, whatever the other S3 keys say', () => {
    const options = cacheOptions(resolve({ configFile: tomlFile('cache_s3_endpoint = "http://x"\ncache_s3_prefix = "p"\n') }), {});
    assert.equal(options.storage, undefined);
    assert.deepEqual(cacheOptions(resolve({}), {}), {
      gcGraceSeconds: undefined,
      gcIntervalSeconds: undefined,
      gcKeepDeployments: undefined,
      uploadIdleMs: undefined,
      staleUploadSeconds: undefined,
    });
  });

  test('numbers must be whole and not negative, from each source; strings non-empty', () => {
    for (const bad of ['-1', '1.5', '1h', 'x']) {
      assert.match(
        configError(() => resolve({ env: { DROVER_CACHE_GC_GRACE: bad } })).message,
        /^environment DROVER_CACHE_GC_GRACE: cache_gc_grace must be a whole number/,
      );
    }
    for (const bad of ['-1', '1.5', '"1h"', 'true']) {
      assert.match(
        configError(() => resolve({ configFile: tomlFile(`cache_gc_interval = ${bad}\n`) })).message,
        /^config file .*: cache_gc_interval must be a whole number/,
      );
    }
    assert.match(configError(() => resolve({ configFile: tomlFile('cache_s3_bucket = ""\n') })).message, /cache_s3_bucket must be a non-empty string/);
  });

  test('an unknown cache key is named, and the known ones listed', () => {
    const err = configError(() => resolve({ configFile: tomlFile('cache_s3_bukket = "nars"\n') }));
    assert.match(
      err.message,
      /unknown key "cache_s3_bukket" \(known: .*cache_s3_bucket, cache_s3_endpoint, cache_s3_region, cache_s3_prefix, cache_gc_grace, cache_gc_interval, cache_keep_deployments, cache_upload_idle_ms, cache_stale_upload\)/,
    );
  });
});

test('sign-in limits: TOML keys, DROVER_SIGN_IN_* and flags, in rising precedence', () => {
  const file = tomlFile('sign_in_concurrency = 2\nsign_in_queue = 10\nsign_in_per_address = 3\n');
  const fromFile = resolveServerSettings({ configFile: file, env: {}, flags: {} });
  assert.deepEqual([fromFile.signInConcurrency, fromFile.signInQueue, fromFile.signInPerAddress], [2, 10, 3]);
  const fromEnv = resolveServerSettings({ configFile: file, env: { DROVER_SIGN_IN_CONCURRENCY: '1', DROVER_SIGN_IN_QUEUE: '0' }, flags: {} });
  assert.deepEqual([fromEnv.signInConcurrency, fromEnv.signInQueue, fromEnv.signInPerAddress], [1, 0, 3]);
  assert.equal(resolveServerSettings({ configFile: file, env: { DROVER_SIGN_IN_PER_ADDRESS: '5' }, flags: { signInPerAddress: 8 } }).signInPerAddress, 8);
  assert.throws(() => resolveServerSettings({ env: { DROVER_SIGN_IN_CONCURRENCY: '0' }, flags: {} }), DroverError);
});
