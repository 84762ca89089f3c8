/** Timestamps as stored: ISO-8601 UTC text, which sorts as it compares. */
export function nowIso(): string {
  return new Date().toISOString();
}
