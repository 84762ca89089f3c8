/**
 * Evaluates a Nix expression to JSON with `nix-instantiate --eval --strict
 * --json` (pure evaluation: nothing is built or fetched), for the tests of
 * Drover's Nix files (packaging, nix/lib.nix).
 */
import { run } from './run.js';

/** The value of `expr`, or the evaluation error (Nix's stderr). */
export async function nixEval(expr: string): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const res = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { timeoutMs: 60_000 });
  if (res.code !== 0) return { ok: false, error: res.stderr };
  return { ok: true, value: JSON.parse(res.stdout) as unknown };
}
