/**
 * The server's built-in binary cache, as the runner uses it: the order names
 * it as a path on the server (`/cache/NAME`, `builtin: true`), resolved here
 * against the server URL the agent connects to; Nix authenticates with the
 * agent token through a netrc file written 0600 in the state directory (the
 * token is never put on a command line or in a log).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheConfig } from '@drover/protocol';
import type { SubstituteSource } from '@drover/nix';

export interface ResolvedCache {
  readonly source: SubstituteSource | null;
  readonly netrcFile?: string;
}

export function resolveCache(cache: CacheConfig | null, server: string, token: string | undefined, stateDir: string): ResolvedCache {
  if (!cache) return { source: null };
  if (!cache.builtin) return { source: cache };
  const url = new URL(cache.substituter, server);
  const source = { substituter: url.href.replace(/\/$/, ''), publicKey: cache.publicKey };
  if (!token) return { source };
  const netrcFile = join(stateDir, 'netrc');
  const tmp = `${netrcFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `machine ${url.hostname} password ${token}\n`, { mode: 0o600 });
  renameSync(tmp, netrcFile);
  return { source, netrcFile };
}
