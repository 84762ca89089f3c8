/**
 * Agent labels (`role=web`, `region=eu`) and the selectors that choose
 * agents by them (`role=web,region!=eu`). One owner for the syntax: the CLI,
 * the server and the web UI all parse and match through these functions.
 *
 * A selector is requirements joined by `,` (all must hold):
 *   `k=v`  the label k is v          `k!=v`  k is absent or not v
 *   `k`    the agent has a label k   `!k`    it has none
 * Keys are 1-63 of letters, digits, `.`, `_`, `-`, `/`, starting and ending
 * with a letter or digit; values 1-63 of letters, digits, `.`, `_`, `-`.
 */
import { DroverError } from './errors.js';

export type Labels = Readonly<Record<string, string>>;

export const LABEL_KEY_PATTERN = '^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$';
export const LABEL_VALUE_PATTERN = '^[A-Za-z0-9._-]{1,63}$';
const keyRe = new RegExp(LABEL_KEY_PATTERN);
const valueRe = new RegExp(LABEL_VALUE_PATTERN);

/** At most this many labels per agent. */
export const MAX_LABELS = 64;

/**
 * What the agents list filters by besides labels: presence (`online`,
 * `offline`), the latest deployment's status (`pending` includes a rollout's
 * queued ones), and `behind` — the latest deployment's path is not the path
 * the agent runs (it has not reached it yet, or it rolled back).
 */
export const AGENT_STATUS_FILTERS = ['online', 'offline', 'succeeded', 'failed', 'pending', 'inprogress', 'behind'] as const;
export type AgentStatusFilter = (typeof AGENT_STATUS_FILTERS)[number];

/**
 * An admin's change to an agent's labels: `k=v` sets k, `k-` removes it
 * (`drover agents label NAME k=v k-`); the JSON-merge-patch form the API takes.
 */
export function parseLabelChanges(args: readonly string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const arg of args) {
    if (arg.endsWith('-') && !arg.includes('=')) {
      const key = arg.slice(0, -1);
      const problem = labelKeyProblem(key);
      if (problem) throw new DroverError('DROVER_ERR_INVALID_LABEL', problem);
      out[key] = null;
    } else {
      const [key, value] = parseLabelAssignment(arg);
      out[key] = value;
    }
  }
  return out;
}

export function labelKeyProblem(key: string): string | null {
  if (key === '__proto__') return 'label key "__proto__" is reserved';
  return keyRe.test(key)
    ? null
    : `label key ${JSON.stringify(key)} is invalid: use 1-63 letters, digits, ".", "_", "-" or "/", starting and ending with a letter or digit`;
}

export function labelValueProblem(key: string, value: string): string | null {
  return valueRe.test(value) ? null : `label ${key}: value ${JSON.stringify(value)} is invalid: use 1-63 letters, digits, ".", "_" or "-"`;
}

/** Every problem of a label set (unknown shape included), empty when it is valid. */
export function labelsProblems(labels: unknown): string[] {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return ['labels must be an object of key: value strings'];
  const entries = Object.entries(labels as Record<string, unknown>);
  const problems: string[] = [];
  if (entries.length > MAX_LABELS) problems.push(`at most ${MAX_LABELS} labels per agent (got ${entries.length})`);
  for (const [key, value] of entries) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) problems.push(keyProblem);
    else if (typeof value !== 'string') problems.push(`label ${key}: value must be a string`);
    else {
      const valueProblem = labelValueProblem(key, value);
      if (valueProblem) problems.push(valueProblem);
    }
  }
  return problems;
}

/** A label set checked by labelsProblems, or DROVER_ERR_INVALID_LABEL naming every problem. */
export function parseLabels(labels: unknown): Labels {
  const problems = labelsProblems(labels);
  if (problems.length > 0) throw new DroverError('DROVER_ERR_INVALID_LABEL', problems.join('; '));
  return labels as Labels;
}

/** `k=v` (as `--label k=v` and `drover agents label NAME k=v` take it) → [k, v]. */
export function parseLabelAssignment(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new DroverError('DROVER_ERR_INVALID_LABEL', `label ${JSON.stringify(text)} must be KEY=VALUE, e.g. role=web`);
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  const problem = labelKeyProblem(key) ?? labelValueProblem(key, value);
  if (problem) throw new DroverError('DROVER_ERR_INVALID_LABEL', problem);
  return [key, value];
}

export type SelectorRequirement =
  { readonly key: string; readonly op: '=' | '!='; readonly value: string } | { readonly key: string; readonly op: 'exists' | 'absent' };

/** A parsed selector: every requirement must hold. The empty selector matches every agent. */
export interface Selector {
  readonly requirements: readonly SelectorRequirement[];
}

function requirementOf(part: string, whole: string): SelectorRequirement {
  const bad = (why: string) =>
    new DroverError('DROVER_ERR_INVALID_SELECTOR', `selector ${JSON.stringify(whole)}: ${why}; write e.g. role=web,region!=eu (k=v, k!=v, k, !k)`);
  const ne = part.indexOf('!=');
  const eq = part.indexOf('=');
  if (ne > 0 || eq > 0) {
    const [key, op, value] = ne > 0 ? [part.slice(0, ne), '!=' as const, part.slice(ne + 2)] : [part.slice(0, eq), '=' as const, part.slice(eq + 1)];
    const problem = labelKeyProblem(key) ?? labelValueProblem(key, value);
    if (problem) throw bad(problem);
    return { key, op, value };
  }
  const absent = part.startsWith('!');
  const key = absent ? part.slice(1) : part;
  const problem = labelKeyProblem(key);
  if (problem) throw bad(part === '' ? 'empty requirement' : problem);
  return { key, op: absent ? 'absent' : 'exists' };
}

/** Parses `role=web,region!=eu`; DROVER_ERR_INVALID_SELECTOR names the part at fault. */
export function parseSelector(text: string): Selector {
  const trimmed = text.trim();
  if (trimmed === '') return { requirements: [] };
  return { requirements: trimmed.split(',').map((part) => requirementOf(part.trim(), text)) };
}

export function matchesSelector(selector: Selector, labels: Labels): boolean {
  return selector.requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case '=':
        return has && labels[r.key] === r.value;
      case '!=':
        return !has || labels[r.key] !== r.value;
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
  });
}

/** The canonical text of a selector (what parseSelector reads back to the same requirements). */
export function formatSelector(selector: Selector): string {
  return selector.requirements.map(requirementText).join(',');
}

function requirementText(r: SelectorRequirement): string {
  switch (r.op) {
    case 'exists':
      return r.key;
    case 'absent':
      return `!${r.key}`;
    default:
      return `${r.key}${r.op}${r.value}`;
  }
}
