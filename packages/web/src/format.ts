/** How times (in the browser's time zone), durations, sizes and store paths are written in the UI. */
import { formatDuration } from './api/protocol.js';

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

/** The browser's time zone, as Intl resolves it ("Asia/Tokyo"). */
const zoneFormat = new Intl.DateTimeFormat('en-US', {
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
});

function localParts(iso: string): Record<string, string> {
  return Object.fromEntries(zoneFormat.formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
}

/** "2025-11-25 19:42:07 GMT+9" — the exact time in the browser's time zone with its date and zone label. */
export function exactTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const p = localParts(iso);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

/** "19:42:07" — the time of day in the browser's time zone (log lines; the date and zone are in exactTime). */
export function localClock(iso: string): string {
  const p = localParts(iso);
  return `${p.hour}:${p.minute}:${p.second}`;
}

/** "340ms", "1.2s", "1m5s" between two times (to now when `end` is null), as the CLI writes them; '—' when it never started. */
export function duration(start: string | null | undefined, end: string | null | undefined, now = Date.now()): string {
  if (!start) return '—';
  return formatDuration(Math.max(0, (end ? Date.parse(end) : now) - Date.parse(start)));
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
