/**
 * The messages between `drover server --workers N`'s primary and its
 * workers over node:cluster's IPC channel: every one is an object tagged
 * `drover: KIND` (the bus, the write lock, the agent counts, metrics,
 * listening). Each owner checks the rest of its own messages.
 */

/** The fields of an IPC message tagged `drover: kind`, still to be checked by its owner; null for any other message. */
export function clusterMessage(message: unknown, kind: string): Readonly<Record<string, unknown>> | null {
  if (typeof message !== 'object' || message === null || Reflect.get(message, 'drover') !== kind) return null;
  return message as Readonly<Record<string, unknown>>;
}
