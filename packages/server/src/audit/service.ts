/**
 * Recording an audit entry — the one place that decides what an entry may
 * hold. Callers (the HTTP hook of http/audit.ts, the server-machine commands
 * of the CLI) pass who, what, the target and a few details; this module
 * checks the action name and keeps secrets out of the details: keys that
 * name a secret (password, secret, ciphertext, hash, cookie, csrf, token
 * text) are dropped, values that look like one (a Drover token, a long hex
 * string, an age file) are replaced, long strings are cut, objects become
 * short JSON text. Request bodies are never recorded as such.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { AUDIT_ACTION_PATTERN, DroverError, type AuditActor, type AuditDetails } from '@drover/protocol';
import type { Database } from '../db/schema.js';
import { insertAuditEntry } from './repository.js';

/** The longest detail string (and target) kept; longer ones are cut. */
const MAX_DETAIL_CHARS = 300;
/** At most this many details per entry. */
const MAX_DETAILS = 20;

/** Keys whose value is or may be a secret: never recorded. */
const SECRET_KEY = /secret|password|passphrase|ciphertext|plaintext|hash|cookie|csrf|^token$|^authorization$/i;
/** Values that look like a secret: a Drover token, 64+ hex characters (a token secret, a key), an age file. */
const SECRET_VALUE = /drover_[a-z]+_[0-9a-f]+_[0-9a-f]+|[0-9a-f]{64,}|age-encryption\.org|BEGIN AGE ENCRYPTED FILE|AGE-SECRET-KEY-/i;

export const REDACTED = '[redacted]';

const actionRe = new RegExp(AUDIT_ACTION_PATTERN);

/** What happened, as a caller reports it. */
export interface AuditRecord {
  readonly action: string;
  readonly actor: AuditActor;
  readonly target?: string | null | undefined;
  /** The workspace it happened in; null or absent for server-wide actions. */
  readonly workspace?: { readonly id: string | null; readonly name: string } | null | undefined;
  /** The client's address, or `local`. */
  readonly address: string;
  /** `METHOD /route/:pattern` of the request, when it came over HTTP. */
  readonly route?: string | null | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

function cut(text: string): string {
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS - 1)}…` : text;
}

/** A string as it may be recorded: secrets replaced, cut to length. */
function safeText(text: string): string {
  return SECRET_VALUE.test(text) ? REDACTED : cut(text);
}

function safeValue(value: unknown): string | number | boolean | null | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return safeText(value);
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'object') return safeText(JSON.stringify(value, (k, v: unknown) => (k !== '' && SECRET_KEY.test(k) ? undefined : v)));
  return undefined;
}

/** The details an entry keeps (see the module comment). */
export function safeDetails(details: Readonly<Record<string, unknown>> | undefined): AuditDetails {
  const kept: AuditDetails = {};
  let n = 0;
  for (const [key, value] of Object.entries(details ?? {})) {
    if (SECRET_KEY.test(key) || n >= MAX_DETAILS) continue;
    const safe = safeValue(value);
    if (safe === undefined) continue;
    kept[cut(key)] = safe;
    n++;
  }
  return kept;
}

let lastMs = 0;
let counter = 0;

/**
 * A UUIDv7-style id: the millisecond, then a counter within it, then random
 * bits — so entries of one process made in the same millisecond still sort
 * in the order they happened (the log is read by `at`, then `id`).
 */
function timeOrderedId(ms: number): string {
  if (ms === lastMs) counter = (counter + 1) & 0xfff;
  else {
    lastMs = ms;
    counter = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Records one entry. An action name that is not `noun.verb` is a bug of the caller (DROVER_ERR_INTERNAL). */
export async function recordAudit(db: Kysely<Database>, record: AuditRecord): Promise<void> {
  if (!actionRe.test(record.action)) throw new DroverError('DROVER_ERR_INTERNAL', `audit action ${JSON.stringify(record.action)} is not a noun.verb name`);
  const ms = Date.now();
  await insertAuditEntry(db, {
    id: timeOrderedId(ms),
    at: new Date(ms).toISOString(),
    workspace_id: record.workspace?.id ?? null,
    workspace_name: record.workspace?.name ?? null,
    action: record.action,
    actor_kind: record.actor.kind,
    actor_id: cut(record.actor.id),
    actor_label: safeText(record.actor.label),
    target: record.target === undefined || record.target === null ? null : safeText(record.target),
    address: cut(record.address),
    route: record.route ?? null,
    details: JSON.stringify(safeDetails(record.details)),
  });
}
