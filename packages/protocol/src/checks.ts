/**
 * drover-checks.json: the health checks that travel with a configuration.
 * An optional file at the root of a deployed store path; the runner reads
 * and validates it before activation (a bad file fails the deployment with
 * the profile untouched) and runs each check after activation:
 *
 *     { "checks": [ { "type": "unit", "unit": "nginx.service" },
 *                   { "type": "http", "url": "http://127.0.0.1/health", "retries": 10 } ] }
 *
 * Every check may carry `name`, `retries` (≥ 0, default 5), `interval` and
 * `timeout` (durations such as "2s"; defaults 2s and 10s). Each variant is
 * checked by its `type`, so an error names the check and the field.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { parseDuration } from './duration.js';

/** The file's name at the root of a store path. */
export const CHECKS_FILE = 'drover-checks.json';
/** Most checks one file may list. */
const MAX_CHECKS = 100;
/** Longest timeout or interval a check may ask for. */
const MAX_CHECK_DURATION_MS = 3_600_000;

const common = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
  interval: Type.Optional(Type.String({ maxLength: 32 })),
  timeout: Type.Optional(Type.String({ maxLength: 32 })),
};
const strict = { additionalProperties: false } as const;

const variants = {
  unit: Type.Object({ type: Type.Literal('unit'), unit: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\s]+$' }), ...common }, strict),
  'no-failed-units': Type.Object({ type: Type.Literal('no-failed-units'), ...common }, strict),
  http: Type.Object({ type: Type.Literal('http'), url: Type.String({ pattern: '^https?://', maxLength: 2048 }), ...common }, strict),
  tcp: Type.Object(
    { type: Type.Literal('tcp'), host: Type.String({ minLength: 1, maxLength: 256 }), port: Type.Integer({ minimum: 1, maximum: 65535 }), ...common },
    strict,
  ),
  command: Type.Object(
    { type: Type.Literal('command'), argv: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 256 }), ...common },
    strict,
  ),
} satisfies Record<string, TSchema>;

type CheckKind = keyof typeof variants;
type RawCheck = { [K in CheckKind]: Static<(typeof variants)[K]> }[CheckKind];

/** A check as the runner runs it: defaults applied, durations in milliseconds. */
export type HealthCheck = RawCheck extends infer C
  ? C extends RawCheck
    ? Omit<C, 'interval' | 'timeout' | 'retries' | 'name'> & {
        readonly name: string;
        readonly retries: number;
        readonly intervalMs: number;
        readonly timeoutMs: number;
      }
    : never
  : never;

export type ChecksParse = { ok: true; checks: HealthCheck[] } | { ok: false; error: string };

let compiled: Map<string, TypeCheck<TSchema>> | undefined;
function validators(): Map<string, TypeCheck<TSchema>> {
  compiled ??= new Map(Object.entries(variants).map(([kind, schema]) => [kind, TypeCompiler.Compile(schema as TSchema)]));
  return compiled;
}

/** What a check is called in the log: its `name`, else its type and target. */
function describe(check: RawCheck): string {
  if (check.name !== undefined) return check.name;
  switch (check.type) {
    case 'unit':
      return `unit ${check.unit}`;
    case 'no-failed-units':
      return 'no failed units';
    case 'http':
      return `http ${check.url}`;
    case 'tcp':
      return `tcp ${check.host}:${String(check.port)}`;
    case 'command':
      return `command ${check.argv[0]}`;
  }
}

function durationField(value: string | undefined, fallback: number, where: string, field: string): number | string {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === null || ms <= 0 || ms > MAX_CHECK_DURATION_MS)
    return `${where}: "${field}" ${JSON.stringify(value)} is not a duration between 1ms and 1h (e.g. "2s")`;
  return ms;
}

function parseCheck(value: unknown, index: number): HealthCheck | string {
  const where = `checks[${String(index)}]`;
  const type = typeof value === 'object' && value !== null && 'type' in value ? value.type : undefined;
  const check = typeof type === 'string' ? validators().get(type) : undefined;
  if (typeof type !== 'string' || !check) {
    return `${where}: unknown "type" ${JSON.stringify(type ?? null)} (expected one of ${Object.keys(variants).join(', ')})`;
  }
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const path = !first || first.path === '' ? '/' : first.path;
    return `${where} (${type}) is invalid at ${path}: ${first?.message ?? 'schema mismatch'}`;
  }
  const raw = value as RawCheck;
  const intervalMs = durationField(raw.interval, 2000, where, 'interval');
  const timeoutMs = durationField(raw.timeout, 10_000, where, 'timeout');
  if (typeof intervalMs === 'string') return intervalMs;
  if (typeof timeoutMs === 'string') return timeoutMs;
  const rest: Partial<RawCheck> = { ...raw };
  delete rest.interval;
  delete rest.timeout;
  return { ...(rest as RawCheck), name: describe(raw), retries: raw.retries ?? 5, intervalMs, timeoutMs };
}

/** Parses and validates drover-checks.json's text; every problem named, with the file's name. */
export function parseChecksFile(text: string): ChecksParse {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `${CHECKS_FILE} is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, error: `${CHECKS_FILE} must be an object {"checks": [...]}` };
  const extra = Object.keys(value).filter((k) => k !== 'checks');
  if (extra.length > 0) return { ok: false, error: `${CHECKS_FILE} has unknown key ${JSON.stringify(extra[0])} (allowed: "checks")` };
  const list = (value as { checks?: unknown }).checks;
  if (!Array.isArray(list)) return { ok: false, error: `${CHECKS_FILE}: "checks" must be a list` };
  if (list.length > MAX_CHECKS) return { ok: false, error: `${CHECKS_FILE} lists ${String(list.length)} checks; at most ${String(MAX_CHECKS)}` };
  const checks: HealthCheck[] = [];
  const problems: string[] = [];
  list.forEach((item: unknown, i) => {
    const parsed = parseCheck(item, i);
    if (typeof parsed === 'string') problems.push(parsed);
    else checks.push(parsed);
  });
  if (problems.length > 0) return { ok: false, error: `${CHECKS_FILE} is invalid: ${problems.join('; ')}` };
  return { ok: true, checks };
}
