/**
 * The `db` phase: the database work of registering BENCH_AGENTS agents and of
 * one activation naming them all, in this process — no server, no socket, no
 * frame — on the backend the phase is given (a fresh SQLite directory, or a
 * fresh PostgreSQL schema). It is what the fan-out's and the registration's
 * rows spend before any frame is sent, measured without the load generators
 * sharing the cores, so it moves little between runs.
 *
 * Its floor, in the same run: the same deployment rows written into a bare
 * table (the same columns; no key, index or constraint), 200 rows a
 * statement, in one transaction — what writing the rows at all costs here.
 */
import { randomUUID } from 'node:crypto';
import { CompiledQuery } from 'kysely';
import { parseStorePath } from '@drover/protocol';
import {
  createDeployments,
  DEFAULT_WORKSPACE,
  findActivationTargets,
  findWorkspace,
  markDisconnected,
  migrateToLatest,
  ensureDefaultWorkspace,
  refreshStaleStatistics,
  registerAgents,
  type ClosedConnection,
  type OpenDatabase,
  type Registration,
} from '@drover/server';
import { AGENTS, progress } from './env.js';
import { openServerDatabase } from './fleet-token.js';
import { agentName, monotonicMs, simHello } from './load.js';
import { fakeStorePath } from './fleet.js';
import { ms, type AddRow } from './table.js';

type Db = OpenDatabase['db'];

/** The most hellos the hub registers together, and the rows of its upsert statement (agents/repository.ts). */
const ROWS_PER_STATEMENT = 200;

/** Agents registered one at a time in their own row: enough for a steady figure, few enough for a second or two. */
const HELLOS_ALONE = 2000;

/** `run`'s value and how long it took. */
async function timed<T>(run: () => Promise<T>): Promise<{ value: T; took: number }> {
  const started = monotonicMs();
  const value = await run();
  return { value, took: monotonicMs() - started };
}

/** Registers every name in batches of `batch`, one after the other, as the hub's registration batches do: the time taken, and the connections. */
async function registerAll(db: Db, workspaceId: string, names: readonly string[], batch: number): Promise<{ took: number; connections: ClosedConnection[] }> {
  const started = monotonicMs();
  const connections: ClosedConnection[] = [];
  for (let i = 0; i < names.length; i += batch) {
    const inputs: Registration[] = names
      .slice(i, i + batch)
      .map((name) => ({ workspaceId, hello: simHello(name), connectionId: randomUUID(), replicaId: 'bench-db' }));
    for (const [input, outcome] of await registerAgents(db, inputs)) {
      if ('error' in outcome) throw new Error(`registering ${input.hello.agent} failed: ${String(outcome.error)}`);
      connections.push({ agentId: outcome.ok.row.id, connectionId: input.connectionId });
    }
  }
  return { took: monotonicMs() - started, connections };
}

/** Records these connections closed, `batch` a statement, as the hub does for connections that close together; the time taken. */
async function disconnectAll(db: Db, connections: readonly ClosedConnection[], batch: number): Promise<number> {
  const started = monotonicMs();
  for (let i = 0; i < connections.length; i += batch) await markDisconnected(db, connections.slice(i, i + batch));
  return monotonicMs() - started;
}

/** The floor: `count` rows as wide as a deployment's into a bare table, ROWS_PER_STATEMENT a statement, one transaction; the time taken. */
async function bareInsert(db: Db, dialect: 'sqlite' | 'postgres', count: number): Promise<number> {
  const columns = ['id', 'workspace_id', 'agent_id', 'index_no', 'activation_id', 'store_path', 'status', 'created_at'];
  const table = `bench_floor_${randomUUID().slice(0, 8)}`;
  await db.executeQuery(CompiledQuery.raw(`create table ${table} (${columns.map((c) => `${c} text`).join(', ')})`));
  const workspace = randomUUID();
  const activation = randomUUID();
  const path = fakeStorePath();
  const now = new Date().toISOString();
  const placeholder = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
  const started = monotonicMs();
  await db.transaction().execute(async (tx) => {
    for (let i = 0; i < count; i += ROWS_PER_STATEMENT) {
      const n = Math.min(ROWS_PER_STATEMENT, count - i);
      const parameters: unknown[] = [];
      const tuples: string[] = [];
      for (let r = 0; r < n; r++) {
        tuples.push(`(${columns.map((_, c) => placeholder(parameters.length + c + 1)).join(', ')})`);
        parameters.push(randomUUID(), workspace, randomUUID(), String(i + r), activation, path, 'Pending', now);
      }
      await tx.executeQuery(CompiledQuery.raw(`insert into ${table} (${columns.join(', ')}) values ${tuples.join(', ')}`, parameters));
    }
  });
  const took = monotonicMs() - started;
  await db.executeQuery(CompiledQuery.raw(`drop table ${table}`));
  return took;
}

export async function dbPhase(label: string, dbFlags: readonly string[], row: AddRow): Promise<void> {
  const database = await openServerDatabase(dbFlags);
  try {
    const { db } = database;
    await migrateToLatest(database);
    await ensureDefaultWorkspace(db);
    const workspaceId = (await findWorkspace(db, DEFAULT_WORKSPACE)).id;
    const width = String(AGENTS).length;
    const names = Array.from({ length: AGENTS }, (_, i) => agentName('sim-', i + 1, width));
    const perAgent = (took: number) => `${((took * 1000) / AGENTS).toFixed(1)} µs per agent`;
    /** db/planner-statistics.ts as an activation of many agents runs it, timed. */
    const refreshed = async (name: string) => {
      const { value: tables, took } = await timed(() => refreshStaleStatistics(db, ['agents', 'deployments']));
      row(name, ms(took), 'ms', tables.length > 0 ? `analyzed ${tables.join(', ')}` : 'none stale (SQLite: never)');
    };

    progress(`db ${label}: registering ${AGENTS} agents`);
    const { took: first } = await registerAll(db, workspaceId, names, ROWS_PER_STATEMENT);
    row(
      `[db ${label}] register ${AGENTS} new agents, 200 a batch`,
      ms(first),
      'ms',
      `${perAgent(first)}; the hellos' upserts (agents/repository.ts registerAgents), one transaction a batch`,
    );
    const { took: again, connections } = await registerAll(db, workspaceId, names, 5);
    row(
      `[db ${label}] register them again, 5 a batch`,
      ms(again),
      'ms',
      `${perAgent(again)}; a fleet coming back, in batches of the size a worker of six gathers (bench/README.md, seventh pass)`,
    );
    const alone = names.slice(0, Math.min(names.length, HELLOS_ALONE));
    const { took: one, connections: aloneConnections } = await registerAll(db, workspaceId, alone, 1);
    row(
      `[db ${label}] register ${alone.length} of them again, one a batch`,
      ms(one),
      'ms',
      `${((one * 1000) / alone.length).toFixed(1)} µs per agent; hellos that arrive alone, as on a server agents trickle back to`,
    );
    // The first agents' connections are those they registered alone with.
    const cut = connections.slice(alone.length);
    const cutTogether = await disconnectAll(db, cut, ROWS_PER_STATEMENT);
    row(
      `[db ${label}] record ${cut.length} connections closed, 200 a batch`,
      ms(cutTogether),
      'ms',
      `${((cutTogether * 1000) / Math.max(1, cut.length)).toFixed(1)} µs per agent; a fleet cut off at once (agents/repository.ts markDisconnected)`,
    );
    const cutAlone = await disconnectAll(db, aloneConnections, 1);
    row(
      `[db ${label}] record ${alone.length} connections closed, one a statement`,
      ms(cutAlone),
      'ms',
      `${((cutAlone * 1000) / alone.length).toFixed(1)} µs per agent; what each cost before they were batched`,
    );

    // What an activation of this many agents does first (deployments/service.ts): the read below would be planned
    // from the statistics of the empty tables on PostgreSQL. Read once before, to show what that costs.
    const stale = await timed(() => findActivationTargets(db, workspaceId, names));
    row(
      `[db ${label}] activation targets, statistics as registration left them`,
      ms(stale.took),
      'ms',
      `${perAgent(stale.took)}; what the read costs without the refresh below`,
    );
    await refreshed(`[db ${label}] refresh stale statistics before the activation`);
    const { value: targets, took: found } = await timed(() => findActivationTargets(db, workspaceId, names));
    row(`[db ${label}] activation targets of ${AGENTS} agents`, ms(found), 'ms', `${perAgent(found)}; the agents an activation names, read by name`);

    progress(`db ${label}: creating ${AGENTS} deployments, twice`);
    const floor = await bareInsert(db, database.dialect, AGENTS);
    for (const which of ['', ', superseding'] as const) {
      if (which !== '') await refreshed(`[db ${label}] refresh stale statistics before the next activation`);
      const storePath = parseStorePath(fakeStorePath());
      const planned = targets.map((t) => ({ agentId: t.id, storePath, rollbackScript: null, rollbackScripts: null }));
      const t0 = monotonicMs();
      const created = await createDeployments(db, { workspaceId, createdBy: null, planned });
      const took = monotonicMs() - t0;
      row(
        `[db ${label}] create ${AGENTS} deployments${which}`,
        ms(took),
        'ms',
        `${perAgent(took)}, ${(took / floor).toFixed(2)}× the floor; each agent's index bumped, ${created.superseded.length} older Pending superseded, the rows inserted, one transaction`,
      );
    }
    row(
      `[db ${label}] floor: ${AGENTS} rows into a bare table`,
      ms(floor),
      'ms',
      `${perAgent(floor)}; no key, index or constraint, 200 rows a statement, one transaction`,
    );
  } finally {
    await database.close();
  }
}
