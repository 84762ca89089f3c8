/**
 * The audit log, declared per route and recorded by ONE hook (the model is
 * the authorization hook of access.ts).
 *
 * A route that changes state says what to record beside its access:
 *
 *     config: {
 *       access: access.workspace('admin'),
 *       audit: { action: 'webhook.create', target: fromResponse('id'), details: (req) => ({ url: ... }) },
 *     }
 *
 * `installAudit` adds an onSend hook that records, for every request such a
 * route answers with a 2xx status, who (the user or token the access hook
 * resolved), the action, the target, the workspace, the client address and
 * the route — before the answer leaves, so a client that saw success finds
 * the entry. Failed and refused requests are not recorded. `target`,
 * `details`, `workspace`, `actor` and `skip` read the request and the JSON
 * answer (`response.body()`); build targets with `fromParam`, `fromBody`,
 * `fromResponse`, details with `field` and `valueAt`. Details pass through audit/service.ts, which keeps
 * secrets out — still, never hand it a secret: pick ids and names.
 *
 * Every POST, PUT, PATCH and DELETE route must declare `audit` (or
 * `audit: false` with a comment saying why it changes nothing worth
 * recording), or it is refused at start-up like a route without access;
 * binary cache data routes (access kind `cache`: NAR and narinfo uploads)
 * are exempt. Actions are `noun.verb`; docs/audit.md lists them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AUDIT_ACTION_PATTERN, type AuditActor } from '@drover/protocol';
import type { ServerContext } from '../context.js';
import { recordAudit } from '../audit/service.js';
import { findWorkspace, getWorkspaceById } from '../workspaces/repository.js';

/** The answer a recorded request got. */
interface AuditResponse {
  readonly statusCode: number;
  /**
   * The JSON answer: the object the handler answered with, as the
   * preSerialization hook saw it (an activation of 100,000 agents answers
   * ~30 MB, which need not be parsed back for two fields), else the text
   * sent, parsed on first use; undefined for an empty or non-JSON one.
   */
  body(): unknown;
}

/** The objects audited routes answered with, until their onSend (preSerialization sees them, onSend only their text). */
const answered = new WeakMap<FastifyRequest, unknown>();

type Read<T> = (request: FastifyRequest, response: AuditResponse) => T;

/** What a route declares to be recorded. */
export interface AuditDeclaration {
  /** `noun.verb`, e.g. `token.create`. */
  readonly action: string;
  /** What it acted on (an id, a name). */
  readonly target?: Read<string | null | undefined>;
  /** A few scalar facts (ids, names, counts, flags) — never a secret. */
  readonly details?: Read<Readonly<Record<string, unknown>>>;
  /** For routes that act in no workspace yet (creating one): the name of the workspace to file the entry under. */
  readonly workspace?: Read<string | null | undefined>;
  /** For public routes: who acted (signing in). */
  readonly actor?: Read<AuditActor | null>;
  /** True for a request that changed nothing (a dry run): not recorded. */
  readonly skip?: Read<boolean>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What a successful request records in the audit log (http/audit.ts); false: nothing. */
    audit?: AuditDeclaration | false;
  }
  interface FastifyInstance {
    /** Every state-changing route with its audit declaration (tests assert none is missing). */
    readonly routeAudit: readonly AuditedRoute[];
  }
}

interface AuditedRoute {
  readonly method: string;
  readonly url: string;
  readonly audit: AuditDeclaration | false;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const actionRe = new RegExp(AUDIT_ACTION_PATTERN);

/** The value at `path` inside `value` (a request's params, query or body, an answer): `valueAt(request.body, 'labels')`. */
export function valueAt(value: unknown, ...path: readonly string[]): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !(key in v)) return undefined;
    v = Reflect.get(v, key);
  }
  return v;
}

/** The string (or number, as text) at `path` inside `value`: `field(request.body, 'name')`. */
export function field(value: unknown, ...path: readonly string[]): string | undefined {
  const v = valueAt(value, ...path);
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** A target (or detail) read from a path parameter: `fromParam('id')`. */
export function fromParam(name: string): Read<string | undefined> {
  return (request) => field(request.params, name);
}

/** A target (or detail) read from the request body: `fromBody('name')`. */
export function fromBody(...path: string[]): Read<string | undefined> {
  return (request) => field(request.body, ...path);
}

/** A target (or detail) read from the JSON answer: `fromResponse('info', 'id')`. */
export function fromResponse(...path: string[]): Read<string | undefined> {
  return (_request, response) => field(response.body(), ...path);
}

function describe(route: { method: string | string[]; url: string }): string {
  return `${[route.method].flat().join(',')} ${route.url}`;
}

/** Who the access hook says acted, unless the route says. */
function actorOf(request: FastifyRequest): AuditActor | null {
  const r = request.droverAccess;
  switch (r?.kind) {
    case 'workspace':
      return r.access.actor;
    case 'user':
      return r.user ? { kind: 'user', id: r.user.signedIn.user.name, label: r.user.signedIn.user.name } : null;
    case 'token':
      return { kind: 'token', id: r.principal.tokenId, label: r.principal.description || r.principal.tokenId };
    case 'cache':
      return r.principal ? { kind: 'token', id: r.principal.tokenId, label: r.principal.description || r.principal.tokenId } : null;
    default:
      return null;
  }
}

/** The workspace the request acted in: the route's say, else what the access hook resolved. */
async function workspaceOf(ctx: ServerContext, request: FastifyRequest, named: string | null | undefined): Promise<{ id: string | null; name: string } | null> {
  if (named !== undefined) {
    if (named === null) return null;
    const row = await findWorkspace(ctx.db, named).catch(() => null);
    return { id: row?.id ?? null, name: named };
  }
  const r = request.droverAccess;
  switch (r?.kind) {
    case 'workspace':
      return { id: r.access.workspaceId, name: r.access.workspaceName };
    case 'token':
      return { id: r.principal.workspaceId, name: r.principal.workspaceName };
    case 'cache':
      return { id: r.cache.workspace_id, name: (await getWorkspaceById(ctx.db, r.cache.workspace_id)).name };
    default:
      return null;
  }
}

function responseOf(statusCode: number, payload: unknown, object: { value: unknown } | null): AuditResponse {
  let parsed = object;
  return {
    statusCode,
    body() {
      if (!parsed) {
        try {
          parsed = { value: typeof payload === 'string' && payload !== '' ? JSON.parse(payload) : undefined };
        } catch {
          parsed = { value: undefined };
        }
      }
      return parsed.value;
    },
  };
}

async function record(ctx: ServerContext, request: FastifyRequest, declared: AuditDeclaration, response: AuditResponse): Promise<void> {
  if (declared.skip?.(request, response)) return;
  const actor = declared.actor ? declared.actor(request, response) : actorOf(request);
  if (!actor) {
    request.log.debug({ action: declared.action }, 'audit: nobody acted (nothing changed); not recorded');
    return;
  }
  await recordAudit(ctx.db, {
    action: declared.action,
    actor,
    target: declared.target?.(request, response),
    workspace: await workspaceOf(ctx, request, declared.workspace?.(request, response)),
    address: request.ip,
    route: `${request.method} ${request.routeOptions.url ?? ''}`,
    details: declared.details?.(request, response),
  });
}

/**
 * Installs the audit hook on the root instance, after `installAccess` and
 * before any route: state-changing routes that declare no `audit` are refused.
 */
export function installAudit(app: FastifyInstance, ctx: ServerContext): void {
  const audited: AuditedRoute[] = [];
  app.decorate('routeAudit', audited);
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat().filter((m) => STATE_CHANGING.has(m));
    if (methods.length === 0) return;
    const declared = route.config?.audit;
    if (declared === undefined) {
      if (route.config?.access?.kind === 'cache') return;
      throw new Error(`route ${describe(route)} changes state but declares no audit (config.audit, see http/audit.ts)`);
    }
    if (declared && !actionRe.test(declared.action))
      throw new Error(`route ${describe(route)} declares audit action ${JSON.stringify(declared.action)}, not a noun.verb name`);
    for (const method of methods) audited.push({ method, url: route.url, audit: declared });
  });
  app.addHook('preSerialization', async (request, _reply, payload) => {
    if (request.routeOptions.config.audit) answered.set(request, payload);
    return payload;
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const declared = request.routeOptions.config.audit;
    if (!declared || reply.statusCode < 200 || reply.statusCode >= 300) return payload;
    const object = answered.has(request) ? { value: answered.get(request) } : null;
    answered.delete(request);
    try {
      await record(ctx, request, declared, responseOf(reply.statusCode, payload, object));
    } catch (err) {
      // The change is made; failing its answer now would only mislead the client.
      request.log.error({ err, action: declared.action }, 'could not record an audit entry');
    }
    return payload;
  });
}
