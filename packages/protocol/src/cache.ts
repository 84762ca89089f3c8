/**
 * The built-in binary cache's vocabulary: cache names (part of the
 * substituter URL `/cache/NAME`), and the API shapes of cache
 * administration, `drover push` (missing-path query, one-request uploads)
 * and garbage collection reports.
 */
import { Type, type Static } from '@sinclair/typebox';
import { DroverError } from './errors.js';
import type { Brand } from './names.js';
import { Nullable, PlainText, SafeInteger, StorePathSchema, Timestamp, WorkspaceNameSchema } from './schemas.js';

export type CacheName = Brand<string, 'CacheName'>;

export const CACHE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,63}$';
const cacheNameRe = new RegExp(CACHE_NAME_PATTERN);

/** Where the built-in caches are served: `<server>/cache/NAME`. */
export const CACHE_PATH_PREFIX = '/cache';

export function parseCacheName(value: unknown): CacheName {
  if (typeof value !== 'string' || !cacheNameRe.test(value)) {
    throw new DroverError(
      'DROVER_ERR_INVALID_CACHE_NAME',
      `cache name ${JSON.stringify(value)} is invalid: use 1-64 lowercase letters, digits or "-", starting with a letter or digit`,
    );
  }
  return value as CacheName;
}

export const CacheNameSchema = Type.String({ pattern: CACHE_NAME_PATTERN, minLength: 1, maxLength: 64 });

export const CacheSchema = Type.Object({
  name: CacheNameSchema,
  workspace: WorkspaceNameSchema,
  public: Type.Boolean(),
  /** `NAME-1:base64`, for trusted-public-keys. */
  publicKey: Type.String(),
  /** Absolute substituter URL as this server sees itself (its public URL + /cache/NAME). */
  substituter: Type.String(),
  createdAt: Timestamp,
  paths: SafeInteger(),
  narBytes: SafeInteger(),
});
export type CacheInfo = Static<typeof CacheSchema>;
export const CacheListSchema = Type.Object({ caches: Type.Array(CacheSchema) });

export const CacheCreateRequestSchema = Type.Object(
  {
    name: CacheNameSchema,
    public: Type.Optional(Type.Boolean()),
    /** Public keys whose signatures on uploaded narinfos are kept (the cache always adds its own). */
    trustedKeys: Type.Optional(Type.Array(PlainText({ maxLength: 256 }), { maxItems: 16 })),
  },
  { additionalProperties: false },
);

/** `drover push`: which of these store path hashes does the cache lack? */
export const MissingRequestSchema = Type.Object({ paths: Type.Array(StorePathSchema, { maxItems: 100_000 }) }, { additionalProperties: false });
export const MissingResponseSchema = Type.Object({ missing: Type.Array(StorePathSchema) });

export const CachePinRequestSchema = Type.Object(
  {
    storePath: StorePathSchema,
    /** Keep for this many days; forever when absent. */
    keepDays: Type.Optional(Type.Number({ minimum: 0, maximum: 36_500 })),
  },
  { additionalProperties: false },
);

export const GcRequestSchema = Type.Object(
  {
    dryRun: Type.Optional(Type.Boolean()),
    /** Paths younger than this many seconds are kept (default: the server's grace period). */
    graceSeconds: Type.Optional(SafeInteger({ maximum: 100 * 365 * 86_400 })),
  },
  { additionalProperties: false },
);

export const GcPathSchema = Type.Object({ storePath: StorePathSchema, reason: Type.String(), narSize: SafeInteger() });
export const GcReportSchema = Type.Object({
  cache: CacheNameSchema,
  dryRun: Type.Boolean(),
  kept: Type.Array(GcPathSchema),
  deleted: Type.Array(GcPathSchema),
  /** NAR files removed from storage (no narinfo of any cache refers to them any more). */
  narsDeleted: SafeInteger(),
  bytesFreed: SafeInteger(),
  at: Timestamp,
  pins: Type.Array(Type.Object({ storePath: StorePathSchema, reason: Type.String(), expiresAt: Nullable(Timestamp) })),
});
export type GcReport = Static<typeof GcReportSchema>;
