/**
 * Human durations as the CLI and config accept them: `90s`, `5m`, `1h30m`,
 * `250ms`, or a bare number of seconds.
 */

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const partRe = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Milliseconds, or null when `text` is not a duration. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (t === '') return null;
  partRe.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = partRe.exec(t); m; m = partRe.exec(t)) {
    const [, amount = '', unit = ''] = m;
    const scale = unitMs[unit];
    if (scale === undefined) return null;
    total += Number(amount) * scale;
    consumed = partRe.lastIndex;
  }
  return consumed === t.length ? Math.round(total) : null;
}

/**
 * A duration as parseDuration reads it back, for the CLI, agent messages and
 * the web UI alike: `340ms` below a second, `1.2s` below ten, then whole
 * seconds (`45s`, `1m30s`), and from an hour on whole minutes (`1h`, `2h5m`).
 */
export function formatDuration(ms: number): string {
  if (ms < 999.5) return `${Math.round(Math.max(0, ms))}ms`;
  const s = ms / 1000;
  if (s < 9.95) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole}s`;
  if (whole >= 3600) {
    const minutes = Math.round(whole / 60);
    const h = Math.floor(minutes / 60);
    const rest = minutes - h * 60;
    return rest ? `${h}h${rest}m` : `${h}h`;
  }
  const m = Math.floor(whole / 60);
  const rest = whole - m * 60;
  return rest ? `${m}m${rest}s` : `${m}m`;
}
