/** How times, durations, sizes and store paths are written in the UI. */

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' });

/** "3 min. ago", "yesterday"; '—' for null. */
export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 10) return 'just now';
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  return rtf.format(Math.round(seconds / 86400), 'day');
}

/** "2025-11-25 10:42:07 UTC" — the exact time, for titles. */
export function exactTime(iso: string | null | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC');
}

/** "1m 05s" between two times (to now when `end` is null); '—' when it never started. */
export function duration(start: string | null | undefined, end: string | null | undefined, now = Date.now()): string {
  if (!start) return '—';
  const ms = Math.max(0, (end ? Date.parse(end) : now) - Date.parse(start));
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** "12.3 MiB"; '—' for null. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "/nix/store/abcd…-nixos-system-web-1" → "nixos-system-web-1" with the hash's first 7 characters. */
export function shortStorePath(path: string | null | undefined): string {
  if (!path) return '—';
  const [, hash, name] = /^\/nix\/store\/([0-9a-z]{32})-(.*)$/.exec(path) ?? [];
  return hash === undefined || name === undefined ? path : `${hash.slice(0, 7)}…-${name}`;
}

/** "12.345" → "12,345". */
export function count(n: number): string {
  return n.toLocaleString('en');
}

/** The first 8 characters of a UUID, as commit ids are shown. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
