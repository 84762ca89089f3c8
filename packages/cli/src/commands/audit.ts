/**
 * `drover audit`: the audit log, newest first — through the API with an
 * admin token (its workspace), or on the server machine against the
 * database (every workspace and the server-wide entries, or --workspace).
 * --since/--until take a time (ISO-8601) or a duration ago (`24h`, `7d`).
 */
import { DroverError, MAX_AUDIT_PAGE, parseDuration, type AuditEntry } from '@drover/protocol';
import { openAdminTarget, type AdminFlags } from '../admin-target.js';
import { info, out, printJson, table } from '../output.js';
import { terminalText } from '../terminal-text.js';

export interface AuditFlags extends AdminFlags {
  workspace?: string;
  action?: string;
  actor?: string;
  target?: string;
  since?: string;
  until?: string;
  limit?: string;
  offset?: string;
  json?: boolean;
}

/** An ISO-8601 time as given, or the time a duration (`7d`) ago. */
function timeFlag(name: string, value: string | undefined, now: number): string | undefined {
  if (value === undefined) return undefined;
  const ago = parseDuration(value);
  if (ago !== null) return new Date(now - ago).toISOString();
  const ms = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(ms)) {
    throw new DroverError(
      'DROVER_ERR_VALIDATION',
      `--${name} must be a time such as 2026-01-31T12:00:00Z or a duration ago such as 24h or 7d (got ${JSON.stringify(value)})`,
    );
  }
  return new Date(ms).toISOString();
}

function whole(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new DroverError('DROVER_ERR_VALIDATION', `--${name} must be a whole number (got ${JSON.stringify(value)})`);
  return Number(value);
}

function detailsText(entry: AuditEntry): string {
  return Object.entries(entry.details)
    .filter(([, v]) => v !== null && v !== '')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

export async function auditCommand(flags: AuditFlags): Promise<void> {
  const now = Date.now();
  const query = {
    workspace: flags.workspace,
    action: flags.action,
    actor: flags.actor,
    target: flags.target,
    since: timeFlag('since', flags.since, now),
    until: timeFlag('until', flags.until, now),
    limit: whole('limit', flags.limit, 50),
    offset: whole('offset', flags.offset, 0),
  };
  if (query.limit < 1 || query.limit > MAX_AUDIT_PAGE)
    throw new DroverError('DROVER_ERR_VALIDATION', `--limit must be from 1 to ${MAX_AUDIT_PAGE} (got ${query.limit})`);
  const target = await openAdminTarget(flags);
  let page;
  try {
    page = await target.listAudit(query);
  } finally {
    await target.close();
  }
  if (flags.json) {
    printJson(page);
    return;
  }
  const text = (s: string) => terminalText(s, process.stdout);
  out(
    table([
      ['TIME', 'WORKSPACE', 'ACTOR', 'ACTION', 'TARGET', 'ADDRESS', 'DETAILS'],
      ...page.entries.map((e) => [
        e.at,
        e.workspace ?? '*',
        text(`${e.actor.kind}:${e.actor.label}`),
        e.action,
        text(e.target ?? '-'),
        e.address,
        text(detailsText(e)),
      ]),
    ]),
  );
  const shown = page.entries.length;
  if (page.total > query.offset + shown) info(`${shown} of ${page.total} entries shown; see more with --offset ${query.offset + shown}`);
  info(page.retentionDays > 0 ? `entries are kept ${page.retentionDays} days` : 'entries are kept for ever');
}
