/** Timestamps as stored: ISO-8601 UTC text, which sorts as it compares. */
export function nowIso(): string {
  return new Date().toISOString();
}

export function isoAgo(ms: number): string {
  return new Date(Date.now() - ms).toISOString();
}
