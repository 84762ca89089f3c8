/**
 * How many connections a server process queues and holds. The listen queue
 * (`LISTEN_BACKLOG`) holds the connections the kernel completed that no
 * process accepted yet: a fleet reconnecting after an outage arrives faster
 * than a busy process accepts, and a full queue drops each new SYN, which
 * the client resends only after 1, 3, 7… s.
 *
 * The most connections one server process accepts: its open-files limit less
 * a reserve for the database, logs and cache files. A process that reached
 * its limit would fail every `open` (a SQLite journal, a NAR upload) and
 * libuv would accept and drop connections unseen; at the cap Node closes a
 * new connection at once instead (net.Server `maxConnections`), the agent
 * backs off and retries, and the server says once what to raise.
 *
 * Within that cap, agent sockets stop short of it (`agentSocketCap`): an
 * agent past it gets an HTTP answer that says when to come back.
 *
 * Only Linux tells a process its own limit (/proc/self/limits); elsewhere
 * there is no cap.
 */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { WarningThrottle } from '../logger.js';

/** Node's default is 511; the kernel caps it at net.core.somaxconn (4096 on current Linux). */
export const LISTEN_BACKLOG = 4096;

/** Files kept for everything but sockets: at most this many, at most a quarter of the limit. */
export const OPEN_FILES_RESERVE = 1000;

/** The soft "Max open files" of a /proc/PID/limits text; null when it is missing or unlimited. */
export function openFilesLimitFrom(limitsText: string): number | null {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  if (!match || match[1] === 'unlimited') return null;
  return Number(match[1]);
}

/** The connections to allow with `openFiles` files: the limit less the reserve. */
export function connectionCap(openFiles: number): number {
  return Math.max(1, openFiles - Math.min(OPEN_FILES_RESERVE, Math.floor(openFiles / 4)));
}

/**
 * The agent sockets to allow within a connection cap: the rest stays for the API, the web UI and the cache, so a
 * full fleet cannot lock its operators out. Past it an agent's upgrade is answered 503 DROVER_ERR_AGENTS_FULL with a
 * Retry-After (hub/agent-hub.ts `refusal`).
 */
export function agentSocketCap(connections: number): number {
  return Math.max(1, connections - Math.min(500, Math.floor(connections / 10)));
}

/** This process's soft open-files limit; null where it cannot be read (not Linux) or is unlimited. */
export function ownOpenFilesLimit(): number | null {
  try {
    return openFilesLimitFrom(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** Caps `server`'s connections by `openFiles` (`ownOpenFilesLimit`; null: no cap) and warns, at most once a minute, when the cap is reached. */
export function capConnections(server: Server, log: Logger, openFiles: number | null): number | null {
  if (openFiles === null) return null;
  const cap = connectionCap(openFiles);
  server.maxConnections = cap;
  // Again once the process was below the cap for a while: a later burst is news.
  const warning = new WarningThrottle(60_000);
  server.on('drop', () => {
    if (!warning.due()) return;
    warning.said();
    log.warn(
      { maxConnections: cap, openFilesLimit: openFiles },
      `this server process holds ${cap} connections, all its open-files limit (${openFiles}) allows beside its own files; ` +
        'new connections are closed until some end: raise the limit (systemd LimitNOFILE=, ulimit -n) or add workers (--workers)',
    );
  });
  return cap;
}
