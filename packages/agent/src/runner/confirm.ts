/**
 * The confirm step of magic rollback: after activation this machine must
 * reach the server again, with the agent token, within the confirm timeout.
 * The runner decides alone — a switch that broke the network, a cut or
 * silent link, a server gone — so every request is bounded by what is left
 * of the deadline, and an answer that will not change by waiting (401/403)
 * ends it at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_PREFIX, formatDuration } from '@drover/protocol';

/** Null when `server` answered within `withinMs`, else the reason to roll back. */
export async function serverReachable(server: string, token: string | undefined, withinMs: number): Promise<string | null> {
  const url = `${server.replace(/\/$/, '')}${API_PREFIX}/agent/check`;
  const deadline = Date.now() + withinMs;
  let last = 'no attempt made';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(Math.max(1, Math.min(10_000, deadline - Date.now()))),
      });
      if (res.status === 204 || res.ok) return null;
      last = `server answered HTTP ${res.status}`;
      if (res.status === 401 || res.status === 403) return last; // a new token will not appear by waiting
    } catch (err) {
      const e = err as Error & { cause?: { message?: string } };
      last = e.name === 'TimeoutError' ? 'no answer' : (e.cause?.message ?? e.message);
    }
    await sleep(Math.max(0, Math.min(2000, deadline - Date.now())));
  }
  return `the server was not reached within the confirm timeout of ${formatDuration(withinMs)} after activation (${url}: ${last})`;
}
