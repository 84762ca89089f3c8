/**
 * What changed between two closures, like nvd or `nix store diff-closures`:
 * each store path's name is split into package name and version the way
 * Nix's DrvName does (the version starts at the first `-` not followed by
 * a letter: `hello-2.12.1` → hello 2.12.1, `openssl-3.0.8-bin` → openssl
 * 3.0.8-bin, `etc` → etc with no version), paths are grouped by name, and
 * a name whose set of versions differs is added, removed or changed. Also
 * the closure size delta, and the one-line summary the CLI prints. The
 * server (from its cache's references) and the agent (from `nix path-info
 * -r --json`) both compute diffs with this module. No TypeBox here.
 */
import type { ClosureDiff } from './closure-diff-schema.js';

/** Most entries of each list (added, removed, changed); a longer list is cut (sorted by name, the first kept). */
export const MAX_DIFF_ENTRIES = 2000;
/** Most versions one changed package lists on each side. */
export const MAX_DIFF_VERSIONS = 32;
/** Longest package name or version (a store path's name is at most 211 characters). */
export const MAX_DIFF_NAME_CHARS = 256;
/** The most a diff takes as JSON: lists are cut further until it fits, so one always fits in an agent frame (1 MiB). */
export const MAX_DIFF_BYTES = 768 * 1024;

export interface PackageName {
  readonly name: string;
  readonly version: string;
}

/** Nix's DrvName of a store path's name (the part after `HASH-`). */
export function parsePackageName(name: string): PackageName {
  for (let i = 0; i + 1 < name.length; i++) {
    if (name[i] === '-' && !/[A-Za-z]/.test(name[i + 1] ?? '')) return { name: name.slice(0, i), version: name.slice(i + 1) };
  }
  return { name, version: '' };
}

/** The DrvName of a store path (`/nix/store/HASH-NAME` or `HASH-NAME`). */
export function packageOfPath(path: string): PackageName {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return parsePackageName(base.slice(33));
}

/** One path of a closure and its NAR size (null when unknown). */
export interface ClosurePath {
  readonly path: string;
  readonly narSize: number | null;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function versionsByName(paths: readonly ClosurePath[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const { path } of paths) {
    const { name, version } = packageOfPath(path);
    const versions = out.get(name) ?? new Set<string>();
    versions.add(version);
    out.set(name, versions);
  }
  return out;
}

function closureSize(paths: readonly ClosurePath[] | null): number | null {
  if (!paths) return null;
  let sum = 0;
  for (const p of paths) {
    if (p.narSize === null) return null;
    sum += p.narSize;
  }
  return sum;
}

export interface DiffInput {
  readonly from: ClosureDiff['from'];
  readonly to: ClosureDiff['to'];
  readonly source: ClosureDiff['source'];
  /** The closure of `from` (null when `from` is). */
  readonly fromClosure: readonly ClosurePath[] | null;
  readonly toClosure: readonly ClosurePath[];
}

/** The diff of two closures, sorted by name, each list cut to MAX_DIFF_ENTRIES. */
export function diffClosures(input: DiffInput): ClosureDiff {
  const before = versionsByName(input.fromClosure ?? []);
  const after = versionsByName(input.toClosure);
  const added: PackageName[] = [];
  const removed: PackageName[] = [];
  const changed: ClosureDiff['changed'] = [];
  const names = [...new Set([...before.keys(), ...after.keys()])].sort(byText);
  for (const name of names) {
    const was = before.get(name);
    const now = after.get(name);
    if (!was && now) for (const version of [...now].sort(byText)) added.push({ name, version });
    else if (was && !now) for (const version of [...was].sort(byText)) removed.push({ name, version });
    else if (was && now) {
      const gone = [...was].filter((v) => !now.has(v)).sort(byText);
      const come = [...now].filter((v) => !was.has(v)).sort(byText);
      if (gone.length > 0 || come.length > 0) changed.push({ name, from: gone.slice(0, MAX_DIFF_VERSIONS), to: come.slice(0, MAX_DIFF_VERSIONS) });
    }
  }
  const sizeFrom = closureSize(input.fromClosure);
  const sizeTo = closureSize(input.toClosure);
  return fitDiff({
    from: input.from,
    to: input.to,
    source: input.source,
    added: added.slice(0, MAX_DIFF_ENTRIES),
    removed: removed.slice(0, MAX_DIFF_ENTRIES),
    changed: changed.slice(0, MAX_DIFF_ENTRIES),
    sizeDelta: sizeFrom !== null && sizeTo !== null ? sizeTo - sizeFrom : null,
    sizeFrom,
    sizeTo,
  });
}

/** The diff with its longest list halved until its JSON is at most `maxBytes`. */
export function fitDiff(diff: ClosureDiff, maxBytes = MAX_DIFF_BYTES): ClosureDiff {
  let fitted = diff;
  while (new TextEncoder().encode(JSON.stringify(fitted)).length > maxBytes) {
    const { added, removed, changed } = fitted;
    const longest = Math.max(added.length, removed.length, changed.length);
    if (longest === 0) break;
    const half = Math.floor(longest / 2);
    if (added.length === longest) fitted = { ...fitted, added: added.slice(0, half) };
    else if (removed.length === longest) fitted = { ...fitted, removed: removed.slice(0, half) };
    else fitted = { ...fitted, changed: changed.slice(0, half) };
  }
  return fitted;
}

/** A signed byte count for people: `+14.2 MiB`, `−512 KiB`, `+0 B`. */
export function formatSizeDelta(bytes: number): string {
  const sign = bytes < 0 ? '−' : '+';
  const abs = Math.abs(bytes);
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (abs < 1024) return `${sign}${abs} B`;
  let value = abs / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${sign}${value.toFixed(1)} ${units[unit] ?? 'TiB'}`;
}

/** `+3 −1 ~12 packages, +14.2 MiB` (the size part only when known). */
export function diffSummary(diff: ClosureDiff): string {
  const counts = `+${diff.added.length} −${diff.removed.length} ~${diff.changed.length} packages`;
  return diff.sizeDelta === null ? counts : `${counts}, ${formatSizeDelta(diff.sizeDelta)}`;
}

/** How a changed package's versions read: `1.0 → 1.1`, `∅` for none, `ε` for the empty version (as diff-closures writes them). */
export function formatVersions(versions: readonly string[]): string {
  return versions.length === 0 ? '∅' : versions.map((v) => (v === '' ? 'ε' : v)).join(', ');
}
