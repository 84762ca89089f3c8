/**
 * The agent websocket protocol's fixed numbers and names (see messages.ts
 * for the protocol itself), in a module of their own so that the long-lived
 * agent has them without the TypeBox schemas (wire.ts).
 */
export const PROTOCOL_VERSION = 1;
export const AGENT_WS_PATH = '/api/v1/agent/ws';
/** Largest websocket frame either side accepts. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Longest log line kept; longer lines are cut and marked. */
export const MAX_LOG_LINE_CHARS = 16 * 1024;
/** Most self-check problems one hello carries, and the longest of them. */
export const MAX_PROBLEMS = 8;
export const MAX_PROBLEM_CHARS = 1024;
/** Most log lines in one `deployment.log` frame. */
export const MAX_LOG_LINES_PER_FRAME = 256;

/** Websocket close codes Drover uses, with the reason text sent along. */
export const CLOSE_CODES = {
  /** Frame was not JSON or did not match its schema. */
  badFrame: 4400,
  /** Token missing, unknown or revoked (also answered as HTTP 401 at upgrade). */
  unauthorized: 4401,
  /** Token bound to a different agent name. */
  forbidden: 4403,
  /**
   * The same agent connected again; this older connection is closed. The
   * reason names the new connection's host; the agent waits long before it
   * tries again (two agents with one name), and `--bootstrap` exits.
   */
  replaced: 4409,
  /** Agent speaks a protocol version the server does not. */
  protocolVersion: 4426,
  /** `hello` did not arrive in time. */
  helloTimeout: 4408,
  /** Server shutting down; reconnect to another replica or later. */
  goingAway: 1001,
} as const;
