/**
 * Ids for the rows a fleet adds by the thousand — agents, activations and
 * their deployments: UUIDv7 (RFC 9562), whose first 48 bits are the time in
 * milliseconds. A table's primary-key B-tree then grows at its right edge,
 * as its created_at index does, instead of each insert landing on a random
 * page: once the rows outgrow the page cache, a random id costs every new
 * row a page read and a split. Measured (bench/README.md, ninth pass,
 * `BENCH_PHASES=db`, 100,000 agents, SQLite): registering new agents
 * 106–111 → 61–65 µs each, 100,000 deployments over 100,000 existing ones
 * 79–90 → 44–49 µs each.
 *
 * Written here rather than taken from the `uuid` package: its v7 asks Web
 * Crypto for 16 bytes per id, 2.7 µs an id on Node 20 (crypto.randomUUID:
 * 0.17 µs) — 270 ms of a 100,000-agent activation. This one draws its
 * random bytes from a pool filled 256 ids at a time, as randomUUID does.
 * Ids made within one millisecond stay in order: the 12 bits after the
 * version are a counter (RFC 9562 §6.2, method 1) that starts at a random
 * value below 2,048 each millisecond; one that runs out moves the time on
 * by a millisecond. The 62 bits after the variant are random.
 *
 * Still UUIDs to every reader (the API's `Uuid` schema, the agents'
 * frames), and no id here is a credential (tokens are: auth/tokens.ts).
 * Rows made one at a time (users, workspaces, tokens) keep randomUUID.
 */
import { randomFillSync } from 'node:crypto';

const POOL_IDS = 256;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolAt = POOL_IDS;

let lastMs = -1;
let counter = 0;

/** 16 random bytes: the pool's next slot's offset. */
function randomSlot(): number {
  if (poolAt === POOL_IDS) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return 16 * poolAt++;
}

/** A new row id: time-ordered, and after every earlier one of this process. */
export function newRowId(): string {
  const at = randomSlot();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = pool.readUInt16BE(at + 6) & 0x7ff;
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  // 48 bits of milliseconds, the version (7) over the counter's 12 bits, the variant (10) over random bits.
  pool.writeUIntBE(lastMs, at, 6);
  pool.writeUInt16BE(0x7000 | counter, at + 6);
  pool.writeUInt8(0x80 | (pool.readUInt8(at + 8) & 0x3f), at + 8);
  const h = pool.toString('hex', at, at + 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
