/**
 * The built-in binary cache's tables (migrations 0003_cache, 0004_cache_nar_uploads).
 *
 * NARs are content-addressed and shared by every cache (`cache_nars`, keyed
 * by their file name `<file hash>.nar.zst`); each cache holds its own
 * narinfos (`cache_paths`), rendered and signed once at upload. `touched_at`
 * on both is bumped whenever an upload relies on a row, so a concurrent GC
 * (which only deletes rows untouched for its grace period) never removes
 * what a push just referenced. `cache_nar_uploads` says which caches were
 * sent a NAR's bytes: a narinfo may only refer to a NAR its cache serves
 * already or was sent, never to another cache's file found by name.
 */
import type { StorePath } from '@drover/protocol';
import type { NarCompression } from '@drover/nix';

export interface CachesTable {
  id: string;
  workspace_id: string;
  /** Unique on the server: part of the URL /cache/NAME. */
  name: string;
  /** 1 when anyone may read it; 0 when reading needs a token. */
  public: number;
  /** Nix secret key `NAME-1:base64(seed ‖ public)`; never leaves the server. */
  secret_key: string;
  public_key: string;
  /** JSON array of public keys whose signatures on uploads are kept. */
  trusted_keys: string;
  created_at: string;
}

export interface CacheNarsTable {
  /** `<nix base-32 file hash><.nar|.nar.xz|.nar.zst>`, as in narinfo URLs. */
  file: string;
  /** Where the bytes are in storage (unique per upload, so GC never deletes a newer upload's object). */
  storage_key: string;
  compression: NarCompression;
  file_size: number;
  /** sha256:<nix base-32> of the decompressed NAR, computed by the server. */
  nar_hash: string;
  nar_size: number;
  created_at: string;
  touched_at: string;
}

/** A cache was sent this NAR's bytes (by `PUT nar/<file>`) and has no narinfo using it yet. */
export interface CacheNarUploadsTable {
  cache_id: string;
  file: string;
  created_at: string;
}

export interface CachePathsTable {
  cache_id: string;
  /** The 32-character hash part of the store path: the narinfo's name. */
  store_hash: string;
  store_path: StorePath;
  nar_file: string;
  nar_size: number;
  /** Space-separated base names, as in the narinfo. */
  refs: string;
  /** The narinfo as served, signed by the cache's key. */
  narinfo: string;
  created_at: string;
  touched_at: string;
}

export interface CachePinsTable {
  id: string;
  cache_id: string;
  store_path: StorePath;
  reason: string;
  expires_at: string | null;
  created_at: string;
}

/** push/pull tokens bound to one cache. */
export interface TokenCachesTable {
  token_id: string;
  cache_id: string;
}
