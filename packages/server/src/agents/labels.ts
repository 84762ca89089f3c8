/**
 * An agent row's labels and whether it matches a selector: the one reading
 * (and writing) of the `agents.labels` column.
 *
 * Two sets share the column, kept apart so neither side overwrites the
 * other: what the agent declares in its hello (`drover agent --label`) and
 * an admin's changes (API/CLI/UI). The stored form is
 * `{"agent": {k: v}, "admin": {k: v | null}}` (null: the admin removed the
 * agent's own label k). The effective labels — what selectors, the agents
 * list and rollouts see — are the agent's with the admin's changes applied:
 * the admin wins key by key. A flat object `{k: v}` (an older writer) reads
 * as the agent's own set.
 */
import { matchesSelector, type Labels, type Selector } from '@drover/protocol';
import type { AgentRow } from '../db/schema.js';

/** An admin's changes over the agent's own labels: a value sets, null removes. */
export type AdminLabels = Readonly<Record<string, string | null>>;

export interface LabelSets {
  readonly agent: Labels;
  readonly admin: AdminLabels;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function only<T>(value: unknown, keep: (v: unknown) => v is T): Record<string, T> {
  if (!isObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, T] => keep(e[1])));
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';

/** Both sets as stored (empty when none). */
export function labelSetsOf(row: Pick<AgentRow, 'labels'>): LabelSets {
  if (row.labels === null) return { agent: {}, admin: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.labels);
  } catch {
    return { agent: {}, admin: {} };
  }
  if (!isObject(parsed)) return { agent: {}, admin: {} };
  if (isObject(parsed['agent']) || isObject(parsed['admin'])) return { agent: only(parsed['agent'], isString), admin: only(parsed['admin'], isStringOrNull) };
  return { agent: only(parsed, isString), admin: {} };
}

/** The effective labels: the agent's own with the admin's changes applied. */
export function effectiveLabels(sets: LabelSets): Labels {
  const merged = new Map<string, string | null>([...Object.entries(sets.agent), ...Object.entries(sets.admin)]);
  return sortedKeys(Object.fromEntries([...merged].filter((e): e is [string, string] => e[1] !== null)));
}

export function labelsOf(row: Pick<AgentRow, 'labels'>): Labels {
  return effectiveLabels(labelSetsOf(row));
}

function sortedKeys<T>(labels: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k] as T]),
  );
}

/** The stored form of the agent's own labels and an admin's changes: null when both are empty, keys in name order. */
export function storedLabels(agent: Labels, admin: AdminLabels = {}): string | null {
  if (Object.keys(agent).length === 0 && Object.keys(admin).length === 0) return null;
  return JSON.stringify({ agent: sortedKeys(agent), admin: sortedKeys(admin) });
}

/**
 * An admin's changes after a PATCH: a value sets it; null removes the key —
 * as a recorded removal when the agent declares that key, else by dropping
 * the admin's own value.
 */
export function patchedAdminLabels(sets: LabelSets, patch: AdminLabels): AdminLabels {
  const out = new Map(Object.entries(sets.admin));
  for (const [key, value] of Object.entries(patch)) {
    if (value !== null || Object.prototype.hasOwnProperty.call(sets.agent, key)) out.set(key, value);
    else out.delete(key);
  }
  return Object.fromEntries(out);
}

export function agentMatches(row: Pick<AgentRow, 'labels'>, selector: Selector): boolean {
  return matchesSelector(selector, labelsOf(row));
}
