/**
 * What every file of the split API tests shares: one server per suite with
 * an admin and an activate token (`useApiServer`), the fake agents opened
 * against it closed afterwards, and the strict check of an error response.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ERRORS, type ErrorCode, type HelloMessage } from '@drover/protocol';
import { AgentSocket } from './fake-agent.js';
import { startTestServer, type ApiResponse, type BackendName, type TestServer } from './support.js';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Asserts an error response: status from the table, body exactly {code, message, hint[, details]}. */
export function assertError(res: ApiResponse, code: ErrorCode, message?: RegExp): void {
  assert.equal(res.status, ERRORS[code].status, `status of ${res.text}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.json?.code, code, res.text);
  assert.equal(res.json.hint, ERRORS[code].hint);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
  for (const key of Object.keys(res.json)) assert.ok(['code', 'message', 'hint', 'details'].includes(key), `unexpected key ${key}`);
  if (message) assert.match(res.json.message, message);
}

/** `PREFIX-` and six random hex digits: a name no other test uses. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** The running server of a suite and its two tokens. */
export interface ApiServer {
  readonly t: TestServer;
  readonly admin: string;
  readonly activate: string;
}

/** The fake agents of a suite: closed when it ends. */
export interface SuiteSockets {
  readonly sockets: AgentSocket[];
  /** Opens a socket with `token`, says hello as `agent`, waits for `registered`; closed after the suite. */
  register(token: string, agent: string, overrides?: Partial<HelloMessage>): ReturnType<typeof AgentSocket.register>;
}

/**
 * Registers the hooks of the current `describe`: before its tests, a server
 * over `backend` with an admin and an activate token (handed to `onStart`);
 * after them, every socket in `sockets` closed and the server stopped (its
 * SQLite dir or PostgreSQL schema removed).
 */
export function useApiServer(backend: BackendName, onStart: (server: ApiServer) => void): SuiteSockets {
  let t: TestServer | undefined;
  const sockets: AgentSocket[] = [];
  before(async () => {
    t = await startTestServer(backend);
    onStart({ t, admin: (await t.mint('admin')).token, activate: (await t.mint('activate')).token });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await t?.close();
  });
  return {
    sockets,
    async register(token, agent, overrides) {
      if (!t) throw new Error('register() before the suite server started');
      const r = await AgentSocket.register(t.wsUrl, token, agent, overrides);
      sockets.push(r.socket);
      return r;
    },
  };
}
