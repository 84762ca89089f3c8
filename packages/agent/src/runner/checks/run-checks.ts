/**
 * Reading drover-checks.json from a store path and running its checks one
 * after the other, each up to 1 + `retries` attempts `interval` apart, every
 * attempt and result said in the deployment log. The first check that never
 * passes is the deployment's failure (and so its rollback).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OutputStream } from '@drover/nix';
import { CHECKS_FILE, formatDuration, parseChecksFile, type ChecksParse, type HealthCheck } from '@drover/protocol';
import { probe as realProbe, type Probe } from './probes.js';

/** The checks a store path carries: none when it has no drover-checks.json (or is a file); an error when the file is bad. */
export function readChecks(storePath: string): ChecksParse {
  let text: string;
  try {
    text = readFileSync(join(storePath, CHECKS_FILE), 'utf8');
  } catch (err) {
    // ENOTDIR: the store path is a single file (a plain profile may be one), so it carries no checks.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: true, checks: [] };
    return { ok: false, error: `cannot read ${join(storePath, CHECKS_FILE)}: ${(err as Error).message}` };
  }
  return parseChecksFile(text);
}

export interface CheckLog {
  say(text: string): void;
  line(stream: OutputStream, text: string): void;
}

/** Runs every check; null when all passed, else why the first failing one failed. */
export async function runChecks(checks: readonly HealthCheck[], log: CheckLog, probe: Probe = realProbe): Promise<string | null> {
  for (const [i, check] of checks.entries()) {
    const label = `check ${String(i + 1)}/${String(checks.length)} (${check.name})`;
    const attempts = check.retries + 1;
    for (let attempt = 1; ; attempt++) {
      const failure = await probe(check, (stream, text) => log.line(stream, text));
      if (failure === null) {
        log.say(`${label}: passed${attempt > 1 ? ` on attempt ${String(attempt)}` : ''}`);
        break;
      }
      if (attempt >= attempts) {
        log.say(`${label}: FAILED after ${String(attempts)} attempt${attempts === 1 ? '' : 's'}: ${failure}`);
        return `health check ${check.name} failed: ${failure}`;
      }
      log.say(`${label}: attempt ${String(attempt)}/${String(attempts)} failed: ${failure}; retrying in ${formatDuration(check.intervalMs)}`);
      await sleep(check.intervalMs);
    }
  }
  return null;
}
