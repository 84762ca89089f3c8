/**
 * What the binary cache's read path keeps in memory: cache rows by name and
 * narinfo texts by (cache, store hash), so a narinfo GET of a known path
 * costs no database query.
 *
 * Only what exists is kept (a missing narinfo is asked of the database each
 * time), so a push never makes an entry wrong: a new path has no entry yet.
 * What does is a narinfo removed (GC) or replaced (a poisoned one), and a
 * cache deleted (with its workspace). The replica that does it forgets at
 * once (`forget*`) and publishes `cache-changed` on the bus; every replica,
 * itself included, forgets again when that arrives, and forgets everything
 * on `resync` (the bus may have missed events).
 *
 * A lookup that raced an invalidation must not store what it read before
 * it: every read takes the `epoch` first and stores only if no invalidation
 * happened since (`remember*`). Entries also expire after `ttlMs`, a bound
 * on staleness should an event be lost without a resync, and the texts are
 * bounded in total size (oldest first out).
 */
import type { BusEvent } from '../bus/bus.js';
import type { CacheRow } from './caches-repository.js';

export interface MemoOptions {
  /** How long an entry is served without asking the database again (default 60 s). */
  readonly ttlMs?: number | undefined;
  /** Most narinfo bytes kept, all caches together (default 32 MiB). */
  readonly maxNarinfoBytes?: number | undefined;
}

interface Entry<T> {
  readonly value: T;
  readonly expires: number;
}

/** Per-entry overhead counted against the size bound besides the text (key, map slot). */
const ENTRY_OVERHEAD_BYTES = 128;

export class CacheMemo {
  private readonly ttlMs: number;
  private readonly maxBytes: number;
  private readonly caches = new Map<string, Entry<CacheRow>>();
  /** By cache id, then store hash (no key string built per lookup). */
  private readonly narinfos = new Map<string, Map<string, Entry<Buffer>>>();
  /** Every remembered narinfo, oldest first: what goes when the size bound is reached. */
  private readonly age = new Map<Entry<Buffer>, { readonly cacheId: string; readonly storeHash: string }>();
  private bytes = 0;
  private invalidations = 0;

  constructor(options: MemoOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxBytes = options.maxNarinfoBytes ?? 32 * 1024 * 1024;
  }

  /** Taken before a database read whose result may be remembered. */
  get epoch(): number {
    return this.invalidations;
  }

  cache(name: string): CacheRow | undefined {
    const e = this.caches.get(name);
    if (!e) return undefined;
    if (e.expires > Date.now()) return e.value;
    this.caches.delete(name);
    return undefined;
  }

  rememberCache(epoch: number, row: CacheRow): void {
    if (epoch === this.invalidations) this.caches.set(row.name, { value: row, expires: Date.now() + this.ttlMs });
  }

  /** The narinfo as served (UTF-8 bytes), when remembered and fresh. */
  narinfo(cacheId: string, storeHash: string): Buffer | undefined {
    const e = this.narinfos.get(cacheId)?.get(storeHash);
    if (!e) return undefined;
    if (e.expires > Date.now()) return e.value;
    this.dropNarinfo(cacheId, storeHash);
    return undefined;
  }

  rememberNarinfo(epoch: number, cacheId: string, storeHash: string, text: Buffer): void {
    if (epoch !== this.invalidations || text.length > this.maxBytes / 16) return;
    this.dropNarinfo(cacheId, storeHash);
    let ofCache = this.narinfos.get(cacheId);
    if (!ofCache) this.narinfos.set(cacheId, (ofCache = new Map<string, Entry<Buffer>>()));
    const entry = { value: text, expires: Date.now() + this.ttlMs };
    ofCache.set(storeHash, entry);
    this.age.set(entry, { cacheId, storeHash });
    this.bytes += text.length + ENTRY_OVERHEAD_BYTES;
    for (const oldest of this.age.values()) {
      if (this.bytes <= this.maxBytes) break;
      this.dropNarinfo(oldest.cacheId, oldest.storeHash);
    }
  }

  /** These narinfos of the cache (all of its narinfos when `storeHashes` is absent) were removed or replaced. */
  forgetPaths(cacheId: string, storeHashes?: readonly string[]): void {
    this.invalidations++;
    for (const hash of storeHashes ?? [...(this.narinfos.get(cacheId)?.keys() ?? [])]) this.dropNarinfo(cacheId, hash);
  }

  /** Caches may have been deleted, or events missed: nothing remembered holds. */
  forgetAll(): void {
    this.invalidations++;
    this.caches.clear();
    this.narinfos.clear();
    this.age.clear();
    this.bytes = 0;
  }

  /** What a bus event means for the memo (every replica subscribes this). */
  onBusEvent(event: BusEvent): void {
    if (event.kind === 'resync') this.forgetAll();
    else if (event.kind === 'cache-changed') {
      if (event.cacheId === undefined) this.forgetAll();
      else this.forgetPaths(event.cacheId, event.storeHashes);
    }
  }

  private dropNarinfo(cacheId: string, storeHash: string): void {
    const ofCache = this.narinfos.get(cacheId);
    const e = ofCache?.get(storeHash);
    if (!ofCache || !e) return;
    ofCache.delete(storeHash);
    if (ofCache.size === 0) this.narinfos.delete(cacheId);
    this.age.delete(e);
    this.bytes -= e.value.length + ENTRY_OVERHEAD_BYTES;
  }
}
