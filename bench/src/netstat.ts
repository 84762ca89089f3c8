/**
 * The kernel's TCP counters of this network namespace (/proc/net/netstat,
 * what `nstat` reads), so a phase can say whether connections were lost in
 * the listen queue (the server did not accept them fast enough) or reset by
 * a process that closed them unread, rather than leave "socket hang up" a
 * mystery.
 */
import { readFileSync } from 'node:fs';

/** The counters a storm reports, by their kernel names. */
const TCP_COUNTERS = ['ListenOverflows', 'ListenDrops', 'TCPAbortOnClose', 'TCPAbortOnData', 'SyncookiesSent'] as const;
export type TcpCounters = Record<(typeof TCP_COUNTERS)[number], number>;

/** The counters now; all zero where /proc/net/netstat is missing or lacks one (not Linux). */
export function tcpCounters(): TcpCounters {
  const found = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync('/proc/net/netstat', 'utf8');
  } catch {
    // not Linux: nothing to read, all zero
  }
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    if (names[0] !== 'TcpExt:') continue;
    names.forEach((name, k) => found.set(name, Number(values[k])));
  }
  return Object.fromEntries(TCP_COUNTERS.map((name) => [name, found.get(name) ?? 0])) as TcpCounters;
}

/** "ListenOverflows 12, ListenDrops 12, …": what changed from `before` to now. */
export function tcpCountersSince(before: TcpCounters): string {
  const now = tcpCounters();
  return TCP_COUNTERS.map((name) => `${name} ${now[name] - before[name]}`).join(', ');
}
