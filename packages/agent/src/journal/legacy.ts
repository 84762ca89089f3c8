/**
 * Journal lines as the previous agent version wrote them, so a runner started
 * before an upgrade (it keeps running while the agent is replaced) is still
 * followed to its end: `{"type":"started"|"closure-size"|"log"|"finished", …}`
 * without the deployment id. Each is rewritten into the protocol message it
 * stood for, with the id taken from the deployment's order, and then checked
 * by the same decoder as a current line. A journal may hold both formats (the
 * new agent appends a current `deployment.finished` when an old runner died).
 */

/** The previous line types that map one to one onto a message with the same fields. */
const RENAMED: Readonly<Record<string, string>> = {
  started: 'deployment.started',
  'closure-size': 'deployment.closure-size',
  finished: 'deployment.finished',
};

/** The current line (JSON text) for a previous-version line, or null if `line` is not one. */
export function fromLegacyLine(line: string, id: string): string | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || !('type' in value)) return null;
  const { type, ...fields } = value;
  if (typeof type !== 'string') return null;
  if (type === 'log') return JSON.stringify({ type: 'deployment.log', id, lines: [fields] });
  const renamed = RENAMED[type];
  return renamed ? JSON.stringify({ ...fields, type: renamed, id }) : null;
}
