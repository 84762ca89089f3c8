/**
 * Terminal output: what the CLI prints to stdout (results a script reads)
 * and stderr (progress, errors with their hint), and simple tables.
 */
import { DroverError } from '@drover/protocol/light';
// The class alone, not the whole API client: `drover agent` prints its errors here too (bench/README.md, agent memory).
import { ApiError } from '@drover/client/api-error';

export function out(line: string): void {
  process.stdout.write(line + '\n');
}

export function info(line: string): void {
  process.stderr.write(line + '\n');
}

export function printJson(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

/** Prints an error the way every command does: message, details, hint. Returns the exit code. */
export function reportError(err: unknown): number {
  if (err instanceof ApiError || err instanceof DroverError) {
    info(`error: ${err.message}`);
    for (const d of err.details ?? []) info(`  - ${d.path || '(root)'}: ${d.message}`);
    if (err.hint) info(`hint: ${err.hint}`);
    return 1;
  }
  const message = typeof err === 'object' && err !== null && 'message' in err ? err.message : undefined;
  info(`error: ${typeof message === 'string' ? message : String(err)}`);
  return 1;
}
