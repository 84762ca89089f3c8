/**
 * The one agent token the simulated fleet shares. Real agent tokens are
 * bound to one name (or claim one on first connection), so N simulated
 * agents would need N tokens; the benchmark measures the server, not token
 * minting, so it writes one token that accepts any agent name — what unbound
 * tokens of earlier versions did — straight into the server's database, as
 * the server package's own admin helpers do. Never offered to users.
 */
import { createToken, DEFAULT_WORKSPACE, findWorkspace, openDatabase } from '@drover/server';

/** `dbFlags` as given to `drover server`: `--data-dir DIR` or `--database-url URL --database-schema S`. */
export async function mintFleetToken(dbFlags: readonly string[]): Promise<string> {
  const flag = (name: string): string | undefined => {
    const i = dbFlags.indexOf(name);
    return i >= 0 ? dbFlags[i + 1] : undefined;
  };
  const database = await openDatabase({ dataDir: flag('--data-dir') ?? '', databaseUrl: flag('--database-url'), databaseSchema: flag('--database-schema') });
  try {
    const workspace = await findWorkspace(database.db, DEFAULT_WORKSPACE);
    const { token } = await createToken(database.db, { workspaceId: workspace.id, kind: 'agent', unbound: 'any', description: 'bench fleet' });
    return token;
  } finally {
    await database.close();
  }
}
