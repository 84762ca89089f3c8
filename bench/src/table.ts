/** The one result table, markdown-style with aligned columns, and the little statistics it needs. */

export interface Row {
  readonly metric: string;
  readonly value: string;
  readonly unit: string;
  readonly note: string;
}

/** How a phase adds a row to the run's table (run.ts `row`). */
export type AddRow = (metric: string, value: string, unit: string, note?: string) => void;

export function renderTable(rows: readonly Row[]): string {
  const header: Row = { metric: 'metric', value: 'value', unit: 'unit', note: 'note / target' };
  const all = [header, ...rows];
  const w = {
    metric: Math.max(...all.map((r) => r.metric.length)),
    value: Math.max(...all.map((r) => r.value.length)),
    unit: Math.max(...all.map((r) => r.unit.length)),
    note: Math.max(...all.map((r) => r.note.length)),
  };
  const line = (r: Row) => `| ${r.metric.padEnd(w.metric)} | ${r.value.padStart(w.value)} | ${r.unit.padEnd(w.unit)} | ${r.note.padEnd(w.note)} |`;
  const rule = `|${'-'.repeat(w.metric + 2)}|${'-'.repeat(w.value + 1)}:|${'-'.repeat(w.unit + 2)}|${'-'.repeat(w.note + 2)}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
export const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
