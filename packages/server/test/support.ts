/**
 * Helpers for the server's API tests: start a real server (`startServer` on
 * 127.0.0.1:0) over SQLite in a temp dir or PostgreSQL in a fresh schema,
 * mint tokens straight into its database, call the API, and drive a fake
 * agent over a real websocket.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { pino } from 'pino';
import WebSocket from 'ws';
import {
  AGENT_WS_PATH,
  decodeServerMessage,
  NIX_BASE32_ALPHABET,
  PROTOCOL_VERSION,
  type AgentName,
  type HelloMessage,
  type ServerMessage,
  type StorePath,
  type TokenKind,
} from '@drover/protocol';
import { createToken } from '../src/auth/tokens.js';
import type { Database } from '../src/db/schema.js';
import { startServer, type RunningServer, type ServerOptions } from '../src/server.js';

export type BackendName = 'sqlite' | 'postgres';
export const BACKENDS: readonly BackendName[] = ['sqlite', 'postgres'];

const PG_CANDIDATES = ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];
let pgUrl: Promise<string> | undefined;

/** The first PostgreSQL URL that accepts a connection ($DROVER_TEST_DATABASE_URL first, if set). */
export function postgresUrl(): Promise<string> {
  pgUrl ??= (async () => {
    const candidates = [process.env['DROVER_TEST_DATABASE_URL'], ...PG_CANDIDATES].filter((u): u is string => !!u);
    const failures: string[] = [];
    for (const url of candidates) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        await client.query('select 1');
        return url;
      } catch (err) {
        failures.push(`${url}: ${(err as Error).message}`);
      } finally {
        await client.end().catch(() => {});
      }
    }
    throw new Error(`no PostgreSQL for the API tests (database "test", trust auth on 127.0.0.1:5432):\n  ${failures.join('\n  ')}`);
  })();
  return pgUrl;
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`refusing to drop schema ${schema}`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

export interface MintedToken {
  readonly token: string;
  readonly id: string;
}

export interface TestServer {
  readonly backend: BackendName;
  readonly server: RunningServer;
  readonly url: string;
  readonly wsUrl: string;
  readonly db: Kysely<Database>;
  readonly defaultWorkspaceId: string;
  /** Mints a token straight into the database (default workspace unless given). */
  mint(kind: TokenKind, opts?: { agent?: string; workspaceId?: string; description?: string }): Promise<MintedToken>;
  close(): Promise<void>;
}

export async function startTestServer(
  backend: BackendName,
  opts: { schemaPrefix?: string; pingIntervalMs?: number; server?: Partial<ServerOptions> } = {},
): Promise<TestServer> {
  const logger = pino({ level: 'silent' });
  let dataDir: string | undefined;
  let databaseUrl: string | undefined;
  let databaseSchema: string | undefined;
  if (backend === 'sqlite') {
    dataDir = await mkdtemp(join(tmpdir(), 'drover-api-test-'));
  } else {
    databaseUrl = await postgresUrl();
    databaseSchema = `${opts.schemaPrefix ?? 'drover_api_'}${randomBytes(6).toString('hex')}`;
  }
  const cleanup = async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (databaseUrl && databaseSchema) await dropSchema(databaseUrl, databaseSchema);
  };
  let server: RunningServer;
  try {
    server = await startServer({
      listen: '127.0.0.1:0',
      dataDir: dataDir ?? join(tmpdir(), 'drover-api-test-unused'),
      databaseUrl,
      databaseSchema,
      logger,
      pingIntervalMs: opts.pingIntervalMs,
      ...opts.server,
    });
  } catch (err) {
    await cleanup().catch(() => {});
    throw err;
  }
  const db = server.context.db;
  const { id: defaultWorkspaceId } = await db.selectFrom('workspaces').select('id').where('name', '=', 'default').executeTakeFirstOrThrow();
  let closing: Promise<void> | undefined;
  return {
    backend,
    server,
    url: server.url,
    wsUrl: server.url.replace(/^http/, 'ws') + AGENT_WS_PATH,
    db,
    defaultWorkspaceId,
    async mint(kind, o = {}) {
      const { token, row } = await createToken(db, {
        workspaceId: o.workspaceId ?? defaultWorkspaceId,
        kind,
        agentName: o.agent as AgentName | undefined,
        description: o.description,
      });
      return { token, id: row.id };
    },
    close: () =>
      (closing ??= (async () => {
        try {
          await server.close();
        } finally {
          await cleanup();
        }
      })()),
  };
}

// ── HTTP ─────────────────────────────────────────────────────────────────────

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly json: any;
  readonly text: string;
}

/** One request through `app.inject`: `body` objects are sent as JSON, strings as they are. */
export async function api(
  t: TestServer,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  opts: { token?: string | undefined; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers['authorization'] = `Bearer ${opts.token}`;
  const res = await t.server.app.inject({
    method,
    url,
    headers,
    ...(opts.body === undefined ? {} : { payload: opts.body as string | object }),
  });
  let json: unknown;
  try {
    json = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text: res.body };
}

export interface StreamEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: Record<string, unknown>;
}

/** Splits a text/event-stream body into its events. */
export function parseEventStream(text: string): StreamEvent[] {
  const out: StreamEvent[] = [];
  for (const block of text.split('\n\n')) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const colon = line.indexOf(': ');
      if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 2));
    }
    const event = fields.get('event');
    if (event) out.push({ event, id: fields.get('id'), data: JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown> });
  }
  return out;
}

// ── store paths, hello ───────────────────────────────────────────────────────

/** A valid-looking, unique store path. */
export function storePath(name: string): StorePath {
  const bytes = randomBytes(32);
  let hash = '';
  for (const b of bytes) hash += NIX_BASE32_ALPHABET[b % 32];
  return `/nix/store/${hash}-${name}` as StorePath;
}

export function hello(agent: string, overrides: Partial<HelloMessage> = {}): HelloMessage {
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    agent,
    version: '0.0.0-test',
    system: 'x86_64-linux',
    profile: '/nix/var/nix/profiles/system',
    hostname: `${agent}.test`,
    ...overrides,
  };
}

export function nowIso(): string {
  return new Date().toISOString();
}

// ── the fake agent ───────────────────────────────────────────────────────────

const WAIT_MS = 10_000;

export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** A websocket to the agent endpoint that queues what the server sends. */
export class AgentSocket {
  private readonly inbox: ServerMessage[] = [];
  private readonly waiters: Array<() => void> = [];
  readonly closed: Promise<Closed>;
  private isClosed = false;
  /** Frames the server sent that did not decode (should stay empty). */
  readonly undecodable: string[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const text = (data as Buffer).toString();
      const decoded = decodeServerMessage(text);
      if (decoded.ok) this.inbox.push(decoded.message);
      else this.undecodable.push(`${decoded.error}: ${text}`);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.isClosed = true;
        this.wake();
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('error', () => {
      /* reported through 'close' */
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Opens a socket with this token; rejects if the upgrade is refused. */
  static open(url: string, token: string): Promise<AgentSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
      const agent = new AgentSocket(socket);
      socket.once('open', () => resolve(agent));
      socket.once('unexpected-response', (_req, res) => {
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
        res.resume();
        socket.terminate();
      });
      socket.once('error', reject);
    });
  }

  /** Opens a socket, says hello and waits for `registered`. */
  static async register(url: string, token: string, agent: string, overrides: Partial<HelloMessage> = {}): Promise<{ socket: AgentSocket; registered: Extract<ServerMessage, { type: 'registered' }> }> {
    const socket = await AgentSocket.open(url, token);
    socket.send(hello(agent, overrides));
    const registered = await socket.next('registered');
    return { socket, registered };
  }

  send(message: object | string): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next message of this type (earlier messages of other types stay queued). */
  async next<T extends ServerMessage['type']>(type: T, timeoutMs = WAIT_MS): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>;
      if (this.isClosed) throw new Error(`socket closed while waiting for "${type}" (inbox: ${JSON.stringify(this.inbox)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${type}" within ${timeoutMs} ms (inbox: ${JSON.stringify(this.inbox)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Messages received and not yet taken by next(). */
  pending(): readonly ServerMessage[] {
    return [...this.inbox];
  }

  /** Waits for the server to close the socket. */
  async closedWithin(timeoutMs = WAIT_MS): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`socket not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes from our side (no-op when already closed). */
  close(): void {
    if (!this.isClosed) this.socket.terminate();
  }
}

/** Attempts an upgrade expected to be refused; resolves with the HTTP status and JSON body. */
export function refusedUpgrade(url: string, token: string | undefined): Promise<{ status: number; body: { code?: string; message?: string; hint?: string } }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    socket.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        socket.terminate();
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { code?: string } });
        } catch {
          reject(new Error(`HTTP ${res.statusCode} with a body that is not JSON: ${text}`));
        }
      });
    });
    socket.on('error', (err) => reject(err));
  });
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
