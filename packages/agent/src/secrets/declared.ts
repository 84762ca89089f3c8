/**
 * The secrets a machine's configuration expects (the NixOS module's
 * `services.drover-agent.secrets.<name>`, handed to the agent as a JSON file
 * with `--declared-secrets FILE`), and the self-check against what the agent
 * received: a declared secret that was never set for this agent, or set with
 * another path, owner, group or mode than the services expect, is said in
 * the agent's log and in each deployment's log, with the command that fixes it.
 *
 *     { "secrets": { "db": { "path": "/run/drover/secrets/db", "owner": "postgres", "group": null, "mode": "0400" } } }
 */
import { readFileSync } from 'node:fs';
import type { SecretOrder } from '@drover/protocol/wire';

interface DeclaredSecret {
  readonly path: string;
  /** null: not checked. */
  readonly owner: string | null;
  readonly group: string | null;
  /** Octal text, e.g. "0400"; null: not checked. */
  readonly mode: string | null;
}

export type DeclaredSecrets = Readonly<Record<string, DeclaredSecret>>;

function optionalText(value: unknown, what: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw new Error(`${what} must be a string or null`);
  return value;
}

/** Reads and checks a declaration file; throws a sentence naming the file and what is wrong. */
export function readDeclaredSecrets(file: string): DeclaredSecrets {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { secrets?: unknown };
    const secrets = parsed.secrets;
    if (secrets === null || typeof secrets !== 'object' || Array.isArray(secrets)) throw new Error('it needs an object "secrets"');
    const out: Record<string, DeclaredSecret> = {};
    for (const [name, raw] of Object.entries(secrets as Record<string, unknown>)) {
      const fields = (raw ?? {}) as Record<string, unknown>;
      const path = optionalText(fields['path'], `secrets.${name}.path`);
      if (!path?.startsWith('/')) throw new Error(`secrets.${name}.path must be an absolute path`);
      const mode = optionalText(fields['mode'], `secrets.${name}.mode`);
      if (mode !== null && !/^0?[0-7]{3,4}$/.test(mode)) throw new Error(`secrets.${name}.mode must be octal like "0400"`);
      out[name] = { path, owner: optionalText(fields['owner'], `secrets.${name}.owner`), group: optionalText(fields['group'], `secrets.${name}.group`), mode };
    }
    return out;
  } catch (err) {
    throw new Error(`cannot use the declared secrets file ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/** What differs between the declaration and the set the agent has (empty: all as declared). */
export function declaredSecretProblems(declared: DeclaredSecrets, secrets: readonly SecretOrder[], agent: string): string[] {
  const problems: string[] = [];
  for (const [name, want] of Object.entries(declared)) {
    const got = secrets.find((s) => s.name === name);
    if (got === undefined) {
      problems.push(
        `declared secret "${name}" (${want.path}) was not set for this agent: run \`drover secret set ${name} --agent ${agent} --path ${want.path}${want.owner === null ? '' : ` --owner ${want.owner}${want.group === null ? '' : `:${want.group}`}`}${want.mode === null ? '' : ` --mode ${want.mode}`}\``,
      );
      continue;
    }
    const differences: string[] = [];
    if (got.path !== want.path) differences.push(`path ${got.path} (declared ${want.path})`);
    if (want.owner !== null && got.owner !== want.owner) differences.push(`owner ${got.owner ?? "the agent's user"} (declared ${want.owner})`);
    if (want.group !== null && got.group !== want.group) differences.push(`group ${got.group ?? 'the default'} (declared ${want.group})`);
    if (want.mode !== null && got.mode !== parseInt(want.mode, 8)) differences.push(`mode ${octal(got.mode)} (declared ${octal(parseInt(want.mode, 8))})`);
    if (differences.length > 0) problems.push(`secret "${name}" was set with ${differences.join(', ')}: set it again with the declared values`);
  }
  return problems;
}
