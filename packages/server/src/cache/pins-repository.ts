/** The `cache_pins` table: store paths kept (with their closure) through GC, forever or until a date. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { StorePath } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import { nowIso } from '../db/time.js';
import type { CachePinsTable } from './tables.js';

export type PinRow = CachePinsTable;

export async function insertPin(db: Kysely<Database>, pin: { cacheId: string; storePath: StorePath; reason: string; expiresAt: string | null }): Promise<void> {
  await db
    .insertInto('cache_pins')
    .values({ id: randomUUID(), cache_id: pin.cacheId, store_path: pin.storePath, reason: pin.reason, expires_at: pin.expiresAt, created_at: nowIso() })
    .execute();
}

/** The cache's pins that have not expired at `now`. */
export async function activePins(db: Kysely<Database>, cacheId: string, now: string): Promise<PinRow[]> {
  return db
    .selectFrom('cache_pins')
    .selectAll()
    .where('cache_id', '=', cacheId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .execute();
}
