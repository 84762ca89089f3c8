/**
 * The one agent token the simulated fleet shares. Real agent tokens are
 * bound to one name (or claim one on first connection), so N simulated
 * agents would need N tokens; the benchmark measures the server, not token
 * minting, so it writes one token that accepts any agent name — what unbound
 * tokens of earlier versions did — straight into the server's database, as
 * the server package's own admin helpers do. Never offered to users. The
 * rollout phase opens the same database for its write-rate floor.
 */
import { createToken, DEFAULT_WORKSPACE, findWorkspace, openDatabase, type OpenDatabase } from '@drover/server';

/** The server's database, opened beside it from `dbFlags` as given to `drover server`: `--data-dir DIR` or `--database-url URL --database-schema S`. */
export function openServerDatabase(dbFlags: readonly string[]): Promise<OpenDatabase> {
  const flag = (name: string): string | undefined => {
    const i = dbFlags.indexOf(name);
    return i >= 0 ? dbFlags[i + 1] : undefined;
  };
  return openDatabase({ dataDir: flag('--data-dir') ?? '', databaseUrl: flag('--database-url'), databaseSchema: flag('--database-schema') });
}

export async function mintFleetToken(dbFlags: readonly string[]): Promise<string> {
  const database = await openServerDatabase(dbFlags);
  try {
    const workspace = await findWorkspace(database.db, DEFAULT_WORKSPACE);
    const { token } = await createToken(database.db, { workspaceId: workspace.id, kind: 'agent', unbound: 'any', description: 'bench fleet' });
    return token;
  } finally {
    await database.close();
  }
}
