/**
 * A large declared fleet for the agents-table test: agents created straight
 * in the backend's database through @drover/server's own createToken (an
 * agent token bound to a name declares that agent), as `drover token create
 * --agent NAME` would, only 10,000 times without 10,000 processes.
 */
import { isAgentName } from '@drover/protocol';
import { createToken, findWorkspace, openDatabase, type DatabaseOptions } from '@drover/server';
import type { Backend } from '../support/drover.js';

/** The database a test server's backend uses, to open it from the test process. */
export function databaseOptions(backend: Backend): DatabaseOptions {
  const flag = (name: string) => {
    const i = backend.flags.indexOf(name);
    return i >= 0 ? backend.flags[i + 1] : undefined;
  };
  return { dataDir: flag('--data-dir') ?? '', databaseUrl: flag('--database-url'), databaseSchema: flag('--database-schema') };
}

/** Declares `count` agents named PREFIX-00000 … in `workspace`; returns one bound agent token per name asked for in `tokensFor`. */
export async function declareFleet(
  backend: Backend,
  workspace: string,
  prefix: string,
  count: number,
  tokensFor: readonly string[] = [],
): Promise<Map<string, string>> {
  const database = await openDatabase(databaseOptions(backend));
  const tokens = new Map<string, string>();
  try {
    const ws = await findWorkspace(database.db, workspace);
    const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < names.length; i += 200) {
      await Promise.all(
        names.slice(i, i + 200).map(async (name) => {
          if (!isAgentName(name)) throw new Error(`not an agent name: ${name}`);
          const { token } = await createToken(database.db, { workspaceId: ws.id, kind: 'agent', agentName: name, description: 'fleet' });
          if (tokensFor.includes(name)) tokens.set(name, token);
        }),
      );
    }
  } finally {
    await database.close();
  }
  return tokens;
}
