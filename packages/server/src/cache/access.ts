/**
 * The credential of a binary cache request. Nix sends the token from a netrc
 * file as `Authorization: Basic` with an empty user (the token is the
 * password); Bearer works too. Who may read or write which cache is decided
 * by the authorization hook (http/access.ts) from the permission table;
 * whether pulling needs a token at all is said here once.
 */
import { bearerFrom } from '../auth/tokens.js';
import type { CacheRow } from './caches-repository.js';

/** Whether pulling from the cache needs a token: anyone may pull from a public one. */
export function pullNeedsToken(cache: CacheRow): boolean {
  return cache.public !== 1;
}

/** The token in a Bearer or Basic (password, or user when the password is empty) Authorization header. */
export function cacheCredential(header: string | undefined): string | null {
  const bearer = bearerFrom(header);
  if (bearer) return bearer;
  const encoded = /^Basic\s+([A-Za-z0-9+/=]{1,2048})\s*$/i.exec(header ?? '')?.[1];
  if (encoded === undefined) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const password = colon < 0 ? '' : decoded.slice(colon + 1);
  return password || user || null;
}
