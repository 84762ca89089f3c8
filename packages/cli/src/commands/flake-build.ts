/**
 * What `drover deploy` asks of Nix: evaluate a flake's `deploy` output through
 * `deployPlan` of nix/lib.nix — the one owner of "configuration → store path",
 * read from this install and passed to `nix eval --apply`, so the flake is
 * evaluated purely — then realise every closure in ONE `nix build` (Nix
 * builds them in parallel). Failures name the agent and quote Nix; nothing
 * is built after a failed evaluation.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DroverError, parseDeploySpec, type DeploySpec } from '@drover/protocol';
import { info } from '../output.js';

const NIX_FLAGS = ['--extra-experimental-features', 'nix-command flakes'];
/** How much of Nix's stderr an error quotes at most. */
const QUOTED_LINES = 30;

export interface DeployPlan {
  readonly spec: DeploySpec;
  /** Derivations (and plain store paths) `nix build` realises for the spec. */
  readonly realise: readonly string[];
}

/** nix/lib.nix of this install: the first `nix/lib.nix` in a directory above this module. */
function nixLibFile(): string {
  const from = dirname(fileURLToPath(import.meta.url));
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    const file = join(dir, 'nix', 'lib.nix');
    if (existsSync(file)) return file;
  }
  throw new DroverError('DROVER_ERR_CONFIG', `nix/lib.nix is missing from this drover install (looked in the directories above ${from}); reinstall drover`);
}

function nixMissing(err: unknown): DroverError | null {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
    ? new DroverError('DROVER_ERR_CONFIG', '`nix` is not on PATH: drover deploy needs Nix 2.8 or newer (flakes are enabled per command)')
    : null;
}

/** Nix's own error: from the first `error:` line to the first blank line (the trace follows it). */
function nixError(stderr: string, untilBlank: boolean): string {
  const lines = stderr.split('\n');
  const start = lines.findIndex((l) => l.startsWith('error:'));
  if (start < 0)
    return (
      lines
        .filter((l) => l.trim() !== '')
        .slice(-QUOTED_LINES)
        .join('\n') || 'nix failed without saying why'
    );
  let end = lines.length;
  if (untilBlank) {
    const blank = lines.findIndex((l, i) => i > start && l.trim() === '');
    if (blank > 0) end = blank;
  }
  return lines
    .slice(start, Math.min(end, start + QUOTED_LINES))
    .join('\n')
    .replace(/^error: /, '')
    .trimEnd();
}

/** `[ "a" "b" ]`: agent names are checked first (letters, digits, "-", "_", "."), so JSON strings are Nix strings. */
const nixList = (names: readonly string[]) => `[ ${names.map((n) => JSON.stringify(n)).join(' ')} ]`;

/** The installable to evaluate: FLAKE#deploy, or FLAKE#ATTR when the reference names one. */
export function deployInstallable(flake: string): string {
  return flake.includes('#') ? flake : `${flake}#deploy`;
}

/** Evaluates the flake's deploy output (only the agents in `only`, when given) to a spec and what to build. */
export async function evaluateDeploy(installable: string, only: readonly string[] | undefined): Promise<DeployPlan> {
  const lib = readFileSync(nixLibFile(), 'utf8');
  const apply = `((${lib}\n) { }).deployPlan { only = ${only && only.length > 0 ? nixList(only) : 'null'}; }`;
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('nix', ['eval', ...NIX_FLAGS, '--json', '--show-trace', installable, '--apply', apply], { maxBuffer: 1 << 28 }));
  } catch (err) {
    const missing = nixMissing(err);
    if (missing) throw missing;
    const raw = (err as { stderr?: unknown }).stderr;
    const stderr = typeof raw === 'string' ? raw : '';
    const where = /… while evaluating drover (agent "[^"]+"|rollbackScript\.\S+)/.exec(stderr)?.[1];
    throw new DroverError('DROVER_ERR_NIX_EVAL', `evaluating ${installable}${where ? ` (${where})` : ''} failed: ${nixError(stderr, true)}`);
  }
  const result = JSON.parse(stdout) as { spec?: unknown; realise?: string[]; unknown?: string[]; available?: string[] };
  if (result.unknown) {
    throw new DroverError(
      'DROVER_ERR_NIX_EVAL',
      `--on ${result.unknown.join(', ')}: not in ${installable}.agents (it has: ${(result.available ?? []).join(', ') || 'no agents'})`,
    );
  }
  try {
    return { spec: parseDeploySpec(result.spec), realise: [...new Set(result.realise ?? [])] };
  } catch (err) {
    throw err instanceof DroverError ? new DroverError('DROVER_ERR_NIX_EVAL', `${installable}: ${err.message}`, err.details) : err;
  }
}

/** Every agent (and rollbackScript) of the spec with its store path. */
export function specPaths(spec: DeploySpec): [string, string][] {
  return [
    ...Object.entries(spec.agents).map(([name, path]): [string, string] => [`agent ${JSON.stringify(name)}`, path]),
    ...Object.entries(spec.rollbackScript ?? {}).map(([system, path]): [string, string] => [`rollbackScript.${system}`, path]),
  ];
}

async function invalidPaths(paths: readonly string[]): Promise<Set<string>> {
  const { stdout } = await promisify(execFile)('nix-store', ['--check-validity', '--print-invalid', ...paths], { maxBuffer: 1 << 26 });
  return new Set(stdout.split('\n').filter((l) => l !== ''));
}

/**
 * Realises the plan in one `nix build --keep-going` (Nix's output goes to
 * stderr as it comes). When it fails, the error names every agent whose
 * closure is not in the store afterwards.
 */
export async function buildPlan(plan: DeployPlan): Promise<void> {
  const started = Date.now();
  info(`building ${plan.realise.length} closure${plan.realise.length === 1 ? '' : 's'} with nix build`);
  const child = spawn('nix', ['build', ...NIX_FLAGS, '--no-link', '--keep-going', ...plan.realise], { stdio: ['ignore', 'ignore', 'pipe'] });
  let tail = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    process.stderr.write(chunk);
    tail = (tail + chunk).slice(-256 * 1024);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', (err) => reject(nixMissing(err) ?? err));
    child.on('close', resolve);
  });
  if (code === 0) {
    info(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  const paths = specPaths(plan.spec);
  const invalid = await invalidPaths(paths.map(([, p]) => p)).catch(() => null);
  const failed = invalid ? paths.filter(([, p]) => invalid.has(p)).map(([what]) => what) : [];
  const which = failed.length > 0 ? ` for ${failed.join(', ')}` : '';
  throw new DroverError('DROVER_ERR_NIX_BUILD', `building failed${which}; nothing was pushed or deployed: ${nixError(tail, false)}`);
}
