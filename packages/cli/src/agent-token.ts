/**
 * Where `drover agent` gets its token, first match wins: `--token-file`,
 * `DROVER_AGENT_TOKEN`, or the systemd credential `agent-token`
 * (`LoadCredential=agent-token:FILE`, read from `$CREDENTIALS_DIRECTORY`,
 * as the NixOS module sets it up). Files are read again before every
 * connection attempt, so replacing one fixes a revoked token without a restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DroverError } from '@drover/protocol/light';

/** The credential name the service modules pass to LoadCredential= (nix/modules/common.nix). */
const AGENT_TOKEN_CREDENTIAL = 'agent-token';

/** Reads the token in `file` now (an unreadable or empty file is an error naming `what`), and again on every call. */
function fileToken(file: string, what: string, hint: string): () => string {
  const read = () => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new DroverError(
        'DROVER_ERR_CONFIG',
        `cannot read ${what}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}; ${hint}`,
      );
    }
    const token = text.trim();
    if (!token) throw new DroverError('DROVER_ERR_CONFIG', `${what} is empty; ${hint}`);
    return token;
  };
  let last = read();
  return () => {
    try {
      last = read();
    } catch {
      /* keep the last good token; the error was reported at start-up */
    }
    return last;
  };
}

/** The token source for `drover agent` (see the module comment); throws a DroverError saying what to set when there is none. */
export function agentTokenSource(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): () => string {
  if (tokenFile) return fileToken(tokenFile, `--token-file ${tokenFile}`, 'write the agent token there (`drover token create --kind agent`)');
  const token = env['DROVER_AGENT_TOKEN']?.trim();
  if (token) {
    // Children (deployment runners) get the token explicitly; nothing else inherits it.
    delete env['DROVER_AGENT_TOKEN'];
    return () => token;
  }
  const credentials = env['CREDENTIALS_DIRECTORY'];
  if (credentials) {
    return fileToken(
      join(credentials, AGENT_TOKEN_CREDENTIAL),
      `the systemd credential ${AGENT_TOKEN_CREDENTIAL} (CREDENTIALS_DIRECTORY=${credentials})`,
      `give the unit LoadCredential=${AGENT_TOKEN_CREDENTIAL}:/path/to/token (the NixOS module does, from services.drover-agent.tokenFile), or pass --token-file`,
    );
  }
  throw new DroverError(
    'DROVER_ERR_UNAUTHORIZED',
    'no agent token: set DROVER_AGENT_TOKEN or pass --token-file (create one with `drover token create --kind agent`)',
  );
}
