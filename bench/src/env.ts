/**
 * The benchmark's knobs (environment variables, checked once) and its
 * progress line on stderr, shared by the phases of `run.ts`. See
 * bench/README.md for what each knob means.
 */

/** `$name`, or undefined when it is unset or empty. */
export function stringEnv(name: string): string | undefined {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

export function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = stringEnv(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}=${raw}: expected an integer in ${min}..${max}`);
  return n;
}

export const AGENTS = intEnv('BENCH_AGENTS', 2000, 1, 100_000);
export const PER_ADDRESS = intEnv('BENCH_PER_ADDRESS', 1000, 1, 4000);
export const WORKERS = intEnv('BENCH_WORKERS', 1, 1, 64);
export const PER_LOAD = intEnv('BENCH_PER_LOAD', 15_000, 1, 100_000);
/** Extra node flags for the fan-out server (workers inherit them), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
export const SERVER_NODE_FLAGS = (process.env['BENCH_SERVER_NODE_FLAGS'] ?? '').split(/\s+/).filter(Boolean);
export const IDLE_MS = intEnv('BENCH_IDLE_MS', 5000, 0, 120_000);

export const progress = (text: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
};
