/**
 * Fetching closures from binary caches and reading their metadata with the
 * real Nix tools. The agent never evaluates or builds: `nix-store --realise`
 * of a store path only substitutes it, with signatures required.
 */
import type { StorePath } from '@drover/protocol/light';
import type { Command } from './command.js';

export interface SubstituteSource {
  /** Binary cache URL, e.g. http://drover:7700/cache/main or https://cache.nixos.org */
  readonly substituter: string;
  /** `NAME:base64` ed25519 public key that signs the cache's narinfos. */
  readonly publicKey: string;
}

/**
 * `nix-store --realise` for `paths`, trying the workspace cache in addition to
 * the machine's own substituters. `require-sigs` is never touched; the
 * workspace key is added to the trusted ones. Negative narinfo lookups are
 * not cached, so a path pushed a moment ago is found.
 */
export interface SubstituteOptions {
  /** Indirect GC root for the fetched paths. */
  readonly gcRoot?: string;
  /**
   * Nix's narinfo disk cache lives under $XDG_CACHE_HOME/nix. Several agents
   * on one machine substituting at once race on a shared one (Nix 2.8 fails
   * with "constraint failed" in binary-cache-v6.sqlite), so each agent
   * passes a directory of its own.
   */
  readonly cacheHome?: string;
  /** netrc with the credential for a private cache (Drover's built-in one). */
  readonly netrcFile?: string | undefined;
  /** Only say what would be fetched (`--dry-run`; `parseFetchPlan` reads its stderr); nothing is fetched, no root added. */
  readonly dryRun?: boolean;
}

export function substituteCommand(paths: readonly StorePath[], source: SubstituteSource | null, options: SubstituteOptions = {}): Command {
  const { gcRoot, cacheHome, netrcFile, dryRun } = options;
  const argv: [string, ...string[]] = ['nix-store', '--realise', ...paths];
  if (dryRun) argv.push('--dry-run');
  // An indirect GC root keeps the fetched closure alive until the profile
  // (itself a root) points to it, and for as long as the deployment's record is kept.
  else if (gcRoot) argv.push('--add-root', gcRoot);
  if (source) {
    argv.push('--option', 'extra-substituters', source.substituter);
    argv.push('--option', 'extra-trusted-public-keys', source.publicKey);
  }
  if (netrcFile) argv.push('--option', 'netrc-file', netrcFile);
  argv.push('--option', 'narinfo-cache-negative-ttl', '0');
  return cacheHome ? { argv, env: { XDG_CACHE_HOME: cacheHome } } : { argv };
}

/** `nix path-info -S --json PATH`, whose stdout `parseClosureSize` reads. */
export function closureSizeCommand(path: StorePath): Command {
  return { argv: ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--closure-size', '--json', path] };
}

export function parseClosureSize(stdout: string): number | null {
  try {
    const parsed: unknown = JSON.parse(stdout);
    const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed && typeof parsed === 'object' ? Object.values(parsed)[0] : undefined;
    const size = typeof first === 'object' && first !== null && 'closureSize' in first ? first.closureSize : undefined;
    return typeof size === 'number' && Number.isFinite(size) ? size : null;
  } catch {
    return null;
  }
}

/** `nix path-info -r --json PATH`: every path of the closure with its NAR size, which `parseClosure` reads. */
export function closureCommand(path: StorePath): Command {
  return { argv: ['nix', '--extra-experimental-features', 'nix-command', 'path-info', '--recursive', '--json', path] };
}

/**
 * The closure in `nix path-info --json` output: an array of `{path, narSize}`
 * (Nix up to 2.18) or an object keyed by path (2.19 on); null when it is
 * neither or a path is not valid.
 */
export function parseClosure(stdout: string): { path: string; narSize: number | null }[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return null;
  }
  const entries: [unknown, unknown][] = Array.isArray(parsed)
    ? parsed.map((info: unknown) => [typeof info === 'object' && info !== null && 'path' in info ? info.path : undefined, info])
    : typeof parsed === 'object' && parsed !== null
      ? Object.entries(parsed)
      : [];
  if (entries.length === 0) return null;
  const out: { path: string; narSize: number | null }[] = [];
  for (const [path, info] of entries) {
    if (typeof path !== 'string' || typeof info !== 'object' || info === null) return null;
    if ('valid' in info && info.valid === false) return null;
    const size = 'narSize' in info ? info.narSize : undefined;
    out.push({ path, narSize: typeof size === 'number' && Number.isSafeInteger(size) ? size : null });
  }
  return out;
}

/** What a substitution will fetch, from `nix-store --realise --dry-run`: sizes in bytes (Nix prints MiB with two decimals). */
export interface FetchPlan {
  readonly paths: number;
  readonly downloadBytes: number;
  readonly unpackedBytes: number;
}

const MIB = 1024 * 1024;
const fetchLine = /^(?:this path|these (\d+) paths) will be fetched \(([\d.]+) MiB download, ([\d.]+) MiB unpacked\)/;

/**
 * The fetch plan in a dry run's output lines (Nix 2.8 to 2.2x: "these 3 paths
 * will be fetched (1.20 MiB download, 4.50 MiB unpacked):"); nothing to fetch
 * when no such line is there. Sizes are rounded up to the 0.01 MiB printed.
 */
export function parseFetchPlan(lines: readonly string[]): FetchPlan {
  for (const line of lines) {
    const m = fetchLine.exec(line.trim());
    if (!m) continue;
    const bytes = (mib: string | undefined) => Math.ceil((Number(mib) + 0.005) * MIB);
    return { paths: m[1] === undefined ? 1 : Number(m[1]), downloadBytes: bytes(m[2]), unpackedBytes: bytes(m[3]) };
  }
  return { paths: 0, downloadBytes: 0, unpackedBytes: 0 };
}
