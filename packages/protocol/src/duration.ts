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

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  if (whole < 60) return `${whole}s`;
  const m = Math.floor(whole / 60);
  const rest = whole - m * 60;
  return rest ? `${m}m${rest}s` : `${m}m`;
}
