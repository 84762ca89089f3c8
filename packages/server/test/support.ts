/**
 * Helpers for the server's API tests: start a real server (`startServer` on
 * 127.0.0.1:0) over SQLite in a temp dir or PostgreSQL in a fresh schema
 * (the PostgreSQL cases skip with one line when no server answers, see
 * `backendCases`), mint tokens straight into its database, call the API
 * through `app.inject`, and read event streams.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { AGENT_WS_PATH, NIX_BASE32_ALPHABET, PROTOCOL_VERSION, type AgentName, type StorePath, type TokenKind } from '@drover/protocol';
import { dropSchema, findPostgres, randomSchema, tempDir, type TempDir } from '@drover/test-support';
import { registerAgents, type Registration } from '../src/agents/repository.js';
import { createToken } from '../src/auth/tokens.js';
import type { Database } from '../src/db/schema.js';
import { startServer, type RunningServer, type ServerOptions } from '../src/server.js';

export type BackendName = 'sqlite' | 'postgres';

/** One backend the API tests run over, and why it is skipped (`false`: it runs). */
export interface BackendCase {
  readonly backend: BackendName;
  readonly skip: string | false;
}

/**
 * SQLite always; PostgreSQL when one answers ($DROVER_TEST_DATABASE_URL, or
 * the defaults on 127.0.0.1:5432), otherwise skipped with the one line
 * `findPostgres` gives. Use as `for (const { backend, skip } of await backendCases())
 * describe(…, { skip }, …)`.
 */
export async function backendCases(): Promise<BackendCase[]> {
  const postgres = await findPostgres();
  return [
    { backend: 'sqlite', skip: false },
    { backend: 'postgres', skip: postgres.skip },
  ];
}

/** The PostgreSQL URL of the tests (throws with the skip line when there is none). */
async function postgresUrl(): Promise<string> {
  const target = await findPostgres();
  if (target.url === undefined) throw new Error(target.skip);
  return target.url;
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
  /**
   * Mints a token straight into the database (default workspace unless
   * given). An agent token without `agent` is unbound as tokens were before
   * bound became the default (any name), unless `unbound: 'claim'`.
   */
  mint(kind: TokenKind, opts?: { agent?: string; unbound?: 'claim' | 'any'; workspaceId?: string; description?: string }): Promise<MintedToken>;
  /** PostgreSQL only: another replica on the same database and schema (stopped by the caller, before `close`). */
  replica(): Promise<RunningServer>;
  close(): Promise<void>;
}

export async function startTestServer(
  backend: BackendName,
  opts: { schemaPrefix?: string; pingIntervalMs?: number; server?: Partial<ServerOptions> } = {},
): Promise<TestServer> {
  const logger = pino({ level: 'silent' });
  let dataDir: TempDir | undefined;
  let databaseUrl: string | undefined;
  let databaseSchema: string | undefined;
  if (backend === 'sqlite') {
    dataDir = await tempDir('drover-api-test-');
  } else {
    databaseUrl = await postgresUrl();
    databaseSchema = randomSchema(opts.schemaPrefix ?? 'drover_api_');
  }
  const cleanup = async () => {
    await dataDir?.remove();
    if (databaseUrl && databaseSchema) await dropSchema(databaseUrl, databaseSchema);
  };
  let server: RunningServer;
  try {
    server = await startServer({
      listen: '127.0.0.1:0',
      dataDir: dataDir?.path ?? join(tmpdir(), 'drover-api-test-unused'),
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
        unbound: kind === 'agent' && o.agent === undefined ? (o.unbound ?? 'any') : undefined,
        description: o.description,
      });
      return { token, id: row.id };
    },
    async replica() {
      if (!databaseUrl) throw new Error('replica(): only a PostgreSQL test server has replicas');
      return startServer({ listen: '127.0.0.1:0', dataDir: join(tmpdir(), 'drover-api-test-unused'), databaseUrl, databaseSchema, logger });
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
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON body of any route, its shape checked by the test's assertions (see eslint.config.js on tests)
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

// ── agents without sockets ───────────────────────────────────────────────────

/** Registers `count` new agents named `prefix-N` in the default workspace straight into the database, as their hellos would. */
export async function registerTestAgents(t: TestServer, prefix: string, count: number): Promise<{ name: string; agentId: string }[]> {
  const inputs: Registration[] = Array.from({ length: count }, (_, i) => {
    const agent = `${prefix}-${String(i + 1)}`;
    return {
      workspaceId: t.defaultWorkspaceId,
      hello: {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        agent,
        version: 'test',
        system: 'x86_64-linux',
        profile: '/nix/var/nix/profiles/system',
        hostname: agent,
      },
      connectionId: randomUUID(),
      replicaId: 'test',
    };
  });
  const out: { name: string; agentId: string }[] = [];
  for (let i = 0; i < inputs.length; i += 200)
    for (const [input, outcome] of await registerAgents(t.db, inputs.slice(i, i + 200))) {
      assert.ok('ok' in outcome, `registering ${input.hello.agent}: ${JSON.stringify(outcome)}`);
      out.push({ name: input.hello.agent, agentId: outcome.ok.row.id });
    }
  return out;
}

// ── store paths, times ───────────────────────────────────────────────────────

/** A valid-looking, unique store path. */
export function storePath(name: string): StorePath {
  const bytes = randomBytes(32);
  let hash = '';
  for (const b of bytes) hash += NIX_BASE32_ALPHABET.charAt(b % 32);
  return `/nix/store/${hash}-${name}` as StorePath;
}

export function nowIso(): string {
  return new Date().toISOString();
}
