/**
 * Ids for the rows a fleet adds by the thousand — agents, activations and
 * their deployments: UUIDv7 (RFC 9562), whose first 48 bits are the time in
 * milliseconds. A table's primary-key B-tree then grows at its right edge,
 * as its created_at index does, instead of each insert landing on a random
 * page: once the deployments of past activations outgrow the page cache, a
 * random id costs every new row a page read and a page split. Measured
 * (bench/README.md, ninth pass): 100,000 deployments created over 100,000
 * existing ones, SQLite, 4.6–4.9 s instead of 5.9–7.6 s.
 *
 * Still UUIDs to every reader (the API's `Uuid` schema, the agents' frames),
 * still unguessable where that matters: 74 of the 128 bits are random, and
 * no id here is a credential (tokens are, auth/tokens.ts). Ids of rows made
 * one at a time (users, workspaces, tokens) keep crypto.randomUUID.
 */
import { v7 } from 'uuid';

/** A new, time-ordered row id. */
export function newRowId(): string {
  return v7();
}
