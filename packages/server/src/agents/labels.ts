/**
 * An agent row's labels and whether it matches a selector: the one reading
 * of the `agents.labels` column (a JSON object written only through
 * parseLabels-checked values).
 */
import { matchesSelector, type Labels, type Selector } from '@drover/protocol';
import type { AgentRow } from '../db/schema.js';

export function labelsOf(row: Pick<AgentRow, 'labels'>): Labels {
  if (row.labels === null) return {};
  try {
    const parsed: unknown = JSON.parse(row.labels);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Labels) : {};
  } catch {
    return {};
  }
}

/** The stored form of a label set: null when empty, keys in name order. */
export function storedLabels(labels: Labels): string | null {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? null : JSON.stringify(Object.fromEntries(keys.map((k) => [k, labels[k]])));
}

export function agentMatches(row: Pick<AgentRow, 'labels'>, selector: Selector): boolean {
  return matchesSelector(selector, labelsOf(row));
}
