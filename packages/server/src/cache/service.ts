/**
 * The built-in binary cache: caches and their signing keys, NAR uploads
 * verified against what they claim to be, narinfos accepted only when their
 * NAR and every reference are present, and signed by the cache's own key.
 *
 * NARs are shared by all caches (deduplicated by file hash), but a cache
 * only sees those it serves or was sent: a narinfo may refer to a NAR whose
 * bytes its upload sent (`PUT nar/<file>` to this cache, or `drover push`) or
 * that one of the cache's narinfos uses already — never another cache's file
 * found by name. Narinfos belong to one cache. An upload "touches" the rows
 * it relies on in the same transaction that makes it visible, which is what
 * makes GC safe against a concurrent push (see gc.ts).
 *
 * This is where the cache's rules live — creating a cache, resolving one by
 * name within a workspace, accepting uploads, pinning and GC; routes call one
 * method each. The tables are read and written only through
 * caches-repository.ts, paths-repository.ts and pins-repository.ts.
 */
import { randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { DroverError, parseCacheName, parseStorePath, STORE_DIR, type GcReport, type StorePath } from '@drover/protocol';
import {
  checkPathMetadata,
  formatNarinfo,
  formatNixHash,
  generateSigningKey,
  isSoundNarinfo,
  parseNarFileName,
  parseNarinfo,
  parseNixHash,
  parsePublicKey,
  parseSecretKey,
  signNarinfo,
  storeHashOf,
  verifyNarinfoSig,
  type NarCompression,
  type SigningKey,
} from '@drover/nix';
import type { Bus } from '../bus/bus.js';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import { getWorkspaceById } from '../workspaces/repository.js';
import { allCaches, findCache, insertCache, listCaches, trustedKeysOf, type CacheRow, type CacheView } from './caches-repository.js';
import { collectGarbage, type GcOptions } from './gc.js';
import {
  findNar,
  insertNar,
  insertPath,
  narForCache,
  narinfoText,
  narOfCache,
  pathStats,
  presentPaths,
  recordNarUpload,
  replacePath,
  touchNar,
  touchPaths,
  type NarRow,
  type PathRow,
} from './paths-repository.js';
import { pullNeedsToken } from './access.js';
import { CacheMemo, type MemoOptions } from './memo.js';
import { insertPin } from './pins-repository.js';
import { receiveNar, type ReceivedNar } from './upload.js';
import { openStorage } from './storage/open.js';
import type { NarStorage, StorageConfig } from './storage/storage.js';

export interface CacheOptions {
  readonly storage: StorageConfig;
  /** Paths and NARs younger than this are never collected (default 1 h). */
  readonly gcGraceSeconds?: number | undefined;
  /** How many successful deployments per agent pin their closure besides the current one (default 3). */
  readonly gcKeepDeployments?: number | undefined;
  /** Run GC on every cache this often; 0 or absent: only on request. */
  readonly gcIntervalSeconds?: number | undefined;
  /** An upload body idle this long fails with 408 (default 10 s). */
  readonly uploadIdleMs?: number | undefined;
  /**
   * A temporary upload file (local storage) not written to for this long was
   * left by a killed process and is removed, at start and then this often
   * (default 1 h; never less than twice the upload idle timeout, so a live
   * upload of any process sharing the storage is never touched).
   */
  readonly staleUploadSeconds?: number | undefined;
  /** Largest accepted NAR file (default 64 GiB). */
  readonly maxNarBytes?: number | undefined;
  /** Priority advertised in nix-cache-info (default 40; cache.nixos.org is 40 too). */
  readonly priority?: number | undefined;
  /** The in-memory copies of cache rows and narinfos (cache/memo.ts). */
  readonly memo?: MemoOptions | undefined;
}

/** What a pusher says about a path besides its NAR (drover push, or a narinfo). */
export interface PathClaim {
  readonly storePath: StorePath;
  readonly references: readonly string[];
  readonly deriver: string | null;
  readonly ca: string | null;
  readonly sigs: readonly string[];
}

/** A NAR to serve: an open local file (send-file.ts) or a stream (S3), and its size. */
export type OpenNar = { readonly file: FileHandle; readonly size: number } | { readonly stream: Readable; readonly size: number };

/** A `drover push` upload's claim: the path, and the NarHash/NarSize its NAR must have. */
export type UploadClaim = PathClaim & { readonly narHash: string; readonly narSize: number };

export class CacheService {
  readonly graceSeconds: number;
  readonly keepDeployments: number;
  readonly uploadIdleMs: number;
  readonly staleUploadMs: number;
  readonly maxNarBytes: number;
  readonly priority: number;
  private readonly keys = new Map<string, SigningKey>();
  private readonly memo: CacheMemo;
  private readonly unsubscribe: () => void;
  private gcTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly db: Kysely<Database>,
    private readonly bus: Bus,
    readonly storage: NarStorage,
    readonly log: Logger,
    options: CacheOptions,
  ) {
    this.memo = new CacheMemo(options.memo);
    this.unsubscribe = bus.subscribe((event) => this.memo.onBusEvent(event));
    this.graceSeconds = options.gcGraceSeconds ?? 3600;
    this.keepDeployments = options.gcKeepDeployments ?? 3;
    this.uploadIdleMs = options.uploadIdleMs ?? 10_000;
    this.staleUploadMs = Math.max((options.staleUploadSeconds ?? 3600) * 1000, 2 * this.uploadIdleMs);
    this.maxNarBytes = options.maxNarBytes ?? 64 * 1024 ** 3;
    this.priority = options.priority ?? 40;
  }

  static async open(db: Kysely<Database>, bus: Bus, log: Logger, options: CacheOptions): Promise<CacheService> {
    const storage = await openStorage(options.storage);
    const service = new CacheService(db, bus, storage, log.child({ component: 'cache' }), options);
    const every = options.gcIntervalSeconds ?? 0;
    if (every > 0) {
      service.gcTimer = setInterval(() => void service.collectAll(), every * 1000);
      service.gcTimer.unref();
    }
    await service.removeStaleUploads();
    service.sweepTimer = setInterval(() => void service.removeStaleUploads(), service.staleUploadMs);
    service.sweepTimer.unref();
    service.log.info({ storage: storage.description }, 'binary cache storage ready');
    return service;
  }

  /** Removes what killed uploads left in storage (see NarStorage.removeStaleUploads); failures are logged, not thrown. */
  async removeStaleUploads(): Promise<number> {
    try {
      const removed = await this.storage.removeStaleUploads(new Date(Date.now() - this.staleUploadMs));
      if (removed > 0) this.log.info({ removed }, 'removed temporary files of interrupted uploads');
      return removed;
    } catch (err) {
      this.log.warn({ err }, 'could not remove temporary files of interrupted uploads');
      return 0;
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.gcTimer);
    clearInterval(this.sweepTimer);
    await this.storage.close();
  }

  // ── caches ────────────────────────────────────────────────────────────────

  async createCache(
    workspaceId: string,
    name: string,
    opts: { public?: boolean | undefined; trustedKeys?: readonly string[] | undefined } = {},
  ): Promise<CacheView> {
    const valid = parseCacheName(name);
    const trusted = (opts.trustedKeys ?? []).map((k) => {
      parsePublicKey(k);
      return k.trim();
    });
    const key = generateSigningKey(`${valid}-1`);
    const row: CacheRow = {
      id: randomUUID(),
      workspace_id: workspaceId,
      name: valid,
      public: opts.public ? 1 : 0,
      secret_key: key.secret,
      public_key: key.publicKey,
      trusted_keys: JSON.stringify(trusted),
      created_at: nowIso(),
    };
    if (!(await insertCache(this.db, row))) throw new DroverError('DROVER_ERR_CACHE_EXISTS', `a cache named ${JSON.stringify(valid)} already exists`);
    return this.view(row);
  }

  /** The cache called `name`; with `workspaceId`, only if it belongs to that workspace. */
  findCache(name: string, workspaceId?: string): Promise<CacheRow> {
    return findCache(this.db, name, workspaceId);
  }

  /** The cache a `/cache/NAME/…` request names (remembered: caches change only by being deleted, see memo.ts). */
  async servedCache(name: string): Promise<CacheRow> {
    const known = this.memo.cache(name);
    if (known) return known;
    const epoch = this.memo.epoch;
    const row = await findCache(this.db, name);
    this.memo.rememberCache(epoch, row);
    return row;
  }

  /**
   * Narinfos of this cache were removed or replaced (committed already):
   * this replica forgets them now, the others when the bus tells them. A
   * failed publication is logged, not thrown: what was removed stays removed,
   * and the others' copies expire (memo.ts).
   */
  async pathsChanged(cache: CacheRow, storeHashes: readonly string[]): Promise<void> {
    if (storeHashes.length === 0) return;
    this.memo.forgetPaths(cache.id, storeHashes);
    try {
      await this.bus.publish({ kind: 'cache-changed', cacheId: cache.id, storeHashes: [...storeHashes] });
    } catch (err) {
      this.log.warn({ err, cache: cache.name }, 'could not tell the other replicas that narinfos changed; their copies expire within a minute');
    }
  }

  /** The workspace's caches with what they hold, oldest first. */
  async listCaches(workspaceId: string): Promise<CacheView[]> {
    return this.views(await listCaches(this.db, workspaceId));
  }

  /** One cache of the workspace with what it holds. */
  async describeCache(name: string, workspaceId: string): Promise<CacheView> {
    return this.view(await findCache(this.db, name, workspaceId));
  }

  private async view(row: CacheRow): Promise<CacheView> {
    const [view] = await this.views([row]);
    if (!view) throw new DroverError('DROVER_ERR_INTERNAL', `no view of cache ${row.name}`);
    return view;
  }

  /** Adds to rows what their API shape shows besides: the workspace's name, the paths and NAR bytes held. */
  private async views(rows: readonly CacheRow[]): Promise<CacheView[]> {
    const stats = await pathStats(
      this.db,
      rows.map((r) => r.id),
    );
    const workspaces = new Map<string, string>();
    for (const id of new Set(rows.map((r) => r.workspace_id))) workspaces.set(id, (await getWorkspaceById(this.db, id)).name);
    return rows.map((r) => ({
      ...r,
      workspace_name: workspaces.get(r.workspace_id) ?? '',
      paths: stats.get(r.id)?.paths ?? 0,
      nar_bytes: stats.get(r.id)?.narBytes ?? 0,
    }));
  }

  // ── garbage collection ────────────────────────────────────────────────────

  /** Pins a store path (and so its closure) of the workspace's cache against GC, forever or for `keepDays`. */
  async pin(name: string, workspaceId: string, storePath: string, keepDays?: number): Promise<void> {
    const cache = await findCache(this.db, name, workspaceId);
    const path = parseStorePath(storePath);
    const expiresAt = keepDays === undefined ? null : new Date(Date.now() + keepDays * 86_400_000).toISOString();
    await insertPin(this.db, { cacheId: cache.id, storePath: path, reason: `pinned${expiresAt ? ` until ${expiresAt}` : ''}`, expiresAt });
  }

  /** GC of the workspace's cache `name` (see gc.ts). */
  async collectGarbage(name: string, workspaceId: string, options: GcOptions): Promise<GcReport> {
    return collectGarbage(this, await findCache(this.db, name, workspaceId), options);
  }

  /** Runs GC on every cache (periodic GC); failures are logged, not thrown. */
  async collectAll(): Promise<void> {
    let caches: CacheRow[];
    try {
      caches = await allCaches(this.db);
    } catch (err) {
      // A periodic run must never become an unhandled rejection (the database may be down just then).
      this.log.error({ err }, 'periodic cache GC could not list the caches; the next run tries again');
      return;
    }
    for (const cache of caches) {
      try {
        const report = await collectGarbage(this, cache, { dryRun: false });
        this.log.info({ cache: cache.name, deleted: report.deleted.length, kept: report.kept.length, bytesFreed: report.bytesFreed }, 'periodic cache GC');
      } catch (err) {
        this.log.error({ err, cache: cache.name }, 'periodic cache GC failed');
      }
    }
  }

  nixCacheInfo(): string {
    return `StoreDir: ${STORE_DIR}\nWantMassQuery: 1\nPriority: ${this.priority}\n`;
  }

  private signingKey(cache: CacheRow): SigningKey {
    let key = this.keys.get(cache.id);
    if (!key) {
      key = parseSecretKey(cache.secret_key);
      this.keys.set(cache.id, key);
    }
    return key;
  }

  // ── reading ───────────────────────────────────────────────────────────────

  /**
   * The narinfo, when this replica remembers it and the cache it names is
   * public (pulling needs nobody): what the fast path (http/cache-fast-path.ts)
   * answers without a database query or the authorization hook.
   */
  rememberedPublicNarinfo(name: string, storeHash: string): { readonly cache: CacheRow; readonly narinfo: Buffer } | undefined {
    const cache = this.memo.cache(name);
    if (!cache || pullNeedsToken(cache)) return undefined;
    const narinfo = this.memo.narinfo(cache.id, storeHash);
    return narinfo ? { cache, narinfo } : undefined;
  }

  /** The narinfo as served (UTF-8), from memory when this replica read it before (memo.ts). */
  async narinfo(cache: CacheRow, storeHash: string): Promise<Buffer | null> {
    const known = this.memo.narinfo(cache.id, storeHash);
    if (known) return known;
    const epoch = this.memo.epoch;
    const text = await narinfoText(this.db, cache.id, storeHash);
    if (text === null) return null;
    const bytes = Buffer.from(text, 'utf8');
    this.memo.rememberNarinfo(epoch, cache.id, storeHash, bytes);
    return bytes;
  }

  /**
   * Whether a narinfo of this cache may refer to the NAR file (HEAD during a
   * push: `nix copy` skips uploading it when true). Another cache's NAR is
   * absent here, exactly like one that does not exist.
   */
  async narVisible(cache: CacheRow, file: string): Promise<boolean> {
    return (await narForCache(this.db, cache.id, file)) !== null;
  }

  /** The NAR's bytes, if a narinfo of this cache refers to it. */
  async openNar(cache: CacheRow, file: string): Promise<OpenNar | null> {
    const nar = await narOfCache(this.db, cache.id, file);
    if (!nar) return null;
    if (this.storage.openFile) {
      const handle = await this.storage.openFile(nar.storageKey);
      return handle ? { file: handle, size: nar.fileSize } : null;
    }
    const stream = await this.storage.read(nar.storageKey);
    return stream ? { stream, size: nar.fileSize } : null;
  }

  /** Which of `paths` the cache does not hold (one query per 500). */
  async missing(cache: CacheRow, paths: readonly StorePath[]): Promise<StorePath[]> {
    const present = await presentPaths(this.db, cache.id, paths);
    return [...new Set(paths)].filter((p) => !present.has(p));
  }

  // ── writing ───────────────────────────────────────────────────────────────

  private receive(body: Readable, compression: NarCompression): Promise<ReceivedNar> {
    return receiveNar(body, { storage: this.storage, compression, idleMs: this.uploadIdleMs, maxBytes: this.maxNarBytes });
  }

  /** Records a verified NAR; if an equal one exists, ours is dropped and theirs kept (and touched). Nothing stays in storage when this fails. */
  private async registerNar(nar: ReceivedNar): Promise<NarRow> {
    try {
      return await this.recordNar(nar);
    } catch (err) {
      await this.storage.delete([nar.storageKey]).catch(() => {});
      throw err;
    }
  }

  private async recordNar(nar: ReceivedNar): Promise<NarRow> {
    const now = nowIso();
    const row: NarRow = {
      file: nar.file,
      storage_key: nar.storageKey,
      compression: nar.compression,
      file_size: nar.fileSize,
      nar_hash: formatNixHash(nar.narHash),
      nar_size: nar.narSize,
      created_at: now,
      touched_at: now,
    };
    if (await insertNar(this.db, row)) return row;
    await this.storage.delete([nar.storageKey]);
    await touchNar(this.db, nar.file, now);
    const existing = await findNar(this.db, nar.file);
    if (!existing) throw new DroverError('DROVER_ERR_UNAVAILABLE', 'the NAR was collected while it was uploaded again; retry');
    return existing;
  }

  private async reject(nar: ReceivedNar, message: string): Promise<never> {
    await this.storage.delete([nar.storageKey]).catch(() => {});
    throw new DroverError('DROVER_ERR_NAR_MISMATCH', message);
  }

  /** `PUT nar/<file>` from `nix copy`: the bytes must hash to the name; the cache may then use the NAR in a narinfo. */
  async putNar(cache: CacheRow, file: string, body: Readable): Promise<void> {
    const named = parseNarFileName(file);
    if (!named)
      throw new DroverError('DROVER_ERR_VALIDATION', `${JSON.stringify(file.slice(0, 80))} is not a NAR file name (<nix base-32 sha256>.nar[.xz|.zst])`);
    const nar = await this.receive(body, named.compression);
    if (nar.file !== file)
      await this.reject(nar, `the upload hashes to ${nar.file}, not ${file} (${nar.fileSize} bytes received); it was corrupted or cut short`);
    await this.registerNar(nar);
    await recordNarUpload(this.db, cache.id, file, nowIso());
  }

  /** `PUT <hash>.narinfo` from `nix copy`: accepted when it matches its NAR and its references are present. */
  async putNarinfo(cache: CacheRow, storeHash: string, text: string): Promise<void> {
    const info = parseNarinfo(text);
    if (storeHashOf(info.storePath) !== storeHash)
      throw new DroverError('DROVER_ERR_NARINFO_INVALID', `StorePath ${info.storePath} does not belong at ${storeHash}.narinfo`);
    const file = /^nar\/(.+)$/.exec(info.url)?.[1];
    const named = file ? parseNarFileName(file) : null;
    if (!file || !named) throw new DroverError('DROVER_ERR_NARINFO_INVALID', `URL ${JSON.stringify(info.url.slice(0, 100))} is not nar/<file>`);
    const nar = await narForCache(this.db, cache.id, file);
    if (!nar) throw new DroverError('DROVER_ERR_NAR_MISSING', `upload ${info.url} to this cache before the narinfo of ${info.storePath}`);
    const problems: string[] = [];
    if (named.compression !== info.compression) problems.push(`Compression ${info.compression} does not match ${file}`);
    if (!named.fileHash.equals(info.fileHash)) problems.push('FileHash does not match the NAR file name');
    if (nar.file_size !== info.fileSize) problems.push(`FileSize ${info.fileSize} ≠ ${nar.file_size} bytes received`);
    if (nar.nar_hash !== formatNixHash(info.narHash)) problems.push(`NarHash ${formatNixHash(info.narHash)} ≠ ${nar.nar_hash} of the decompressed upload`);
    if (nar.nar_size !== info.narSize) problems.push(`NarSize ${info.narSize} ≠ ${nar.nar_size} bytes decompressed`);
    if (problems.length > 0) throw new DroverError('DROVER_ERR_NAR_MISMATCH', `narinfo of ${info.storePath} does not match its NAR: ${problems.join('; ')}`);
    await this.accept(cache, info, nar);
  }

  /**
   * `drover push`: one request per path. The server computes the file hash,
   * so the client streams without a temporary file; the NAR hash and size it
   * claims are checked against the decompressed bytes.
   */
  async uploadPath(cache: CacheRow, claim: UploadClaim, compression: NarCompression, body: Readable): Promise<void> {
    const valid = checkPathMetadata(claim);
    await this.accept(cache, valid, await this.receiveClaimed(valid, compression, body));
  }

  /**
   * `drover push` of many small paths in one request: every NAR is verified
   * as in `uploadPath`, then all narinfos are committed in ONE transaction,
   * in the order given — a path may reference one earlier in the batch. If
   * any path is refused, none of the batch becomes visible.
   */
  async uploadPaths(cache: CacheRow, compression: NarCompression, entries: readonly { readonly claim: UploadClaim; readonly body: Readable }[]): Promise<void> {
    const checked = entries.map((e) => ({ claim: checkPathMetadata(e.claim), body: e.body }));
    // Every upload settles before the answer: one failing must not leave the others still writing when the client hears "nothing was kept".
    const settled = await Promise.allSettled(checked.map(async ({ claim, body }) => ({ claim, nar: await this.receiveClaimed(claim, compression, body) })));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const received = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const replaced = await this.db.transaction().execute(async (tx) => {
      const hashes: string[] = [];
      for (const r of received) if (await this.commitPath(tx, cache, r.claim, r.nar)) hashes.push(storeHashOf(r.claim.storePath));
      return hashes;
    });
    await this.pathsChanged(cache, replaced);
  }

  /** Receives a NAR, checks it against the claimed NarHash/NarSize, and registers it. */
  private async receiveClaimed(claim: UploadClaim, compression: NarCompression, body: Readable): Promise<NarRow> {
    const narHash = parseNixHash(claim.narHash);
    const nar = await this.receive(body, compression);
    if (!nar.narHash.equals(narHash) || nar.narSize !== claim.narSize) {
      await this.reject(
        nar,
        `the NAR of ${claim.storePath} is ${nar.narSize} bytes with ${formatNixHash(nar.narHash)}, not ${claim.narSize} bytes with ${formatNixHash(narHash)}; it was corrupted or cut short`,
      );
    }
    return this.registerNar(nar);
  }

  /** Signs and stores a narinfo once its NAR and every reference are present — atomically with touching them. */
  private async accept(cache: CacheRow, claim: PathClaim, nar: NarRow): Promise<void> {
    if (await this.db.transaction().execute((tx) => this.commitPath(tx, cache, claim, nar))) await this.pathsChanged(cache, [storeHashOf(claim.storePath)]);
  }

  /** Within `tx`: touches the NAR and the references (all must be present), then stores the signed narinfo; true when it replaced a stored one. */
  private async commitPath(tx: Transaction<Database>, cache: CacheRow, claim: PathClaim, nar: NarRow): Promise<boolean> {
    const self = claim.storePath.slice(STORE_DIR.length + 1);
    const references = [...new Set(claim.references)].sort();
    const others = references.filter((r) => r !== self);
    const named = parseNarFileName(nar.file);
    if (!named) throw new DroverError('DROVER_ERR_INTERNAL', `the stored NAR file name ${nar.file} does not parse`);
    const narHash = parseNixHash(nar.nar_hash);
    const signed = { storePath: claim.storePath, narHash, narSize: nar.nar_size, references };
    const trusted = trustedKeysOf(cache).map(parsePublicKey);
    const kept = claim.sigs.filter((s) => verifyNarinfoSig(s, signed, trusted));
    const narinfo = formatNarinfo({
      ...signed,
      url: `nar/${nar.file}`,
      compression: named.compression,
      fileHash: named.fileHash,
      fileSize: nar.file_size,
      deriver: claim.deriver,
      ca: claim.ca,
      sigs: [signNarinfo(this.signingKey(cache), signed), ...kept],
    });
    const now = nowIso();
    if (!(await touchNar(tx, nar.file, now)))
      throw new DroverError('DROVER_ERR_NAR_MISSING', `nar/${nar.file} was collected before the narinfo of ${claim.storePath} arrived; push again`);
    const found = new Set((await touchPaths(tx, cache.id, others.map(storeHashOf), now)).map((p) => p.slice(STORE_DIR.length + 1)));
    const absent = others.filter((r) => !found.has(r));
    if (absent.length > 0) {
      throw new DroverError(
        'DROVER_ERR_NAR_MISSING',
        `${claim.storePath} references ${absent.length} path(s) this cache does not hold (${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ', …' : ''}); push its whole closure`,
      );
    }
    return this.storePath(tx, {
      cache_id: cache.id,
      store_hash: storeHashOf(claim.storePath),
      store_path: claim.storePath,
      nar_file: nar.file,
      nar_size: nar.nar_size,
      refs: references.join(' '),
      narinfo,
      created_at: now,
      touched_at: now,
    });
  }

  /**
   * The first upload of a path wins; a repeated one only keeps it young —
   * unless the stored narinfo breaks today's rules (stored before a rule was
   * added): then this valid upload replaces it, so a poisoned one never sticks.
   * True when it replaced one (copies in memory must go once committed).
   */
  private async storePath(tx: Transaction<Database>, row: PathRow): Promise<boolean> {
    if (await insertPath(tx, row)) return false;
    const stored = await narinfoText(tx, row.cache_id, row.store_hash);
    if (stored === null) {
      await insertPath(tx, row); // collected in between
      return false;
    }
    if (isSoundNarinfo(stored)) {
      await touchPaths(tx, row.cache_id, [row.store_hash], row.touched_at);
      return false;
    }
    this.log.warn({ storePath: row.store_path }, 'replacing a stored narinfo that fails validation');
    await replacePath(tx, row);
    return true;
  }
}
