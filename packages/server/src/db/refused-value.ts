/**
 * Telling a value the database refused from a failure of the database itself.
 *
 * PostgreSQL answers SQLSTATE class 22 ("data exception": a NUL byte in text,
 * a number out of its column's range, a malformed value) when a query carries
 * a value it cannot store; SQLite says SQLITE_TOOBIG or SQLITE_MISMATCH. Such a
 * query fails the same way every time it is retried, so it is refused (HTTP
 * 400, websocket 4400), never answered as a server error to be retried.
 */
const DATA_EXCEPTION_SQLSTATE = /^22[0-9A-Z]{3}$/;
const SQLITE_REFUSALS = new Set(['SQLITE_TOOBIG', 'SQLITE_MISMATCH']);

function errorCode(err: Error): unknown {
  return 'code' in err ? err.code : undefined;
}

/** The database's own words when it refused a value of this query, else null. */
export function refusedValue(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const code = errorCode(err);
  if (typeof code !== 'string') return null;
  return DATA_EXCEPTION_SQLSTATE.test(code) || SQLITE_REFUSALS.has(code) ? err.message : null;
}
