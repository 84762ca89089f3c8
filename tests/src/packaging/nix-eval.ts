/**
 * Evaluates a Nix expression to JSON with `nix-instantiate --eval --strict
 * --json` (pure evaluation: nothing is built or fetched), for the packaging
 * tests.
 */
import { run } from '@drover/test-support';

/** The value of `expr`, or the evaluation error (Nix's stderr). */
export async function nixEval(expr: string): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const res = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { timeoutMs: 60_000 });
  if (res.code !== 0) return { ok: false, error: res.stderr };
  return { ok: true, value: JSON.parse(res.stdout) };
}

/** A Nix string literal of `text` (JSON string syntax is valid Nix for the characters we pass). */
export function nixString(text: string): string {
  return JSON.stringify(text).replaceAll('${', '\\${');
}
