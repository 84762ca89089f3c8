/**
 * Where `drover agent` gets its token: --token-file, DROVER_AGENT_TOKEN, or
 * the systemd credential agent-token in $CREDENTIALS_DIRECTORY (what the
 * NixOS module's LoadCredential= provides), and the errors when none works.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DroverError } from '@drover/protocol';
import { agentTokenSource } from '../src/agent-token.js';

const dir = mkdtempSync(join(tmpdir(), 'drover-agent-token-'));

function credentialsDir(name: string, token?: string): string {
  const path = join(dir, name);
  mkdirSync(path);
  if (token !== undefined) writeFileSync(join(path, 'agent-token'), token);
  return path;
}

test('the credential agent-token in CREDENTIALS_DIRECTORY is the token when nothing else is given, and is re-read', () => {
  const creds = credentialsDir('given', 'cred-token\n');
  const token = agentTokenSource(undefined, { CREDENTIALS_DIRECTORY: creds });
  assert.equal(token(), 'cred-token');
  writeFileSync(join(creds, 'agent-token'), 'rotated\n');
  assert.equal(token(), 'rotated');
});

test('CREDENTIALS_DIRECTORY without the agent-token credential is an error saying which LoadCredential= to add', () => {
  const creds = credentialsDir('missing');
  assert.throws(
    () => agentTokenSource(undefined, { CREDENTIALS_DIRECTORY: creds }),
    (err: unknown) =>
      err instanceof DroverError &&
      err.code === 'DROVER_ERR_CONFIG' &&
      err.message.includes(`the systemd credential agent-token (CREDENTIALS_DIRECTORY=${creds}): no such file`) &&
      err.message.includes('LoadCredential=agent-token:/path/to/token'),
  );
});

test('an empty credential is an error, not an empty token', () => {
  const creds = credentialsDir('empty', '\n');
  assert.throws(() => agentTokenSource(undefined, { CREDENTIALS_DIRECTORY: creds }), /the systemd credential agent-token .* is empty/);
});

test('--token-file and DROVER_AGENT_TOKEN win over the credential', () => {
  const creds = credentialsDir('both', 'cred-token');
  const file = join(dir, 'file.token');
  writeFileSync(file, 'file-token\n');
  assert.equal(agentTokenSource(file, { CREDENTIALS_DIRECTORY: creds, DROVER_AGENT_TOKEN: 'env-token' })(), 'file-token');
  const env: NodeJS.ProcessEnv = { CREDENTIALS_DIRECTORY: creds, DROVER_AGENT_TOKEN: 'env-token' };
  assert.equal(agentTokenSource(undefined, env)(), 'env-token');
  assert.equal(env['DROVER_AGENT_TOKEN'], undefined, 'the variable is removed so that children do not inherit it');
});

test('no token source at all names the ways to give one', () => {
  assert.throws(
    () => agentTokenSource(undefined, {}),
    (err: unknown) => err instanceof DroverError && err.code === 'DROVER_ERR_UNAUTHORIZED',
  );
});

test('an unreadable --token-file names the file', () => {
  assert.throws(() => agentTokenSource(join(dir, 'absent.token'), {}), /cannot read --token-file .*absent\.token: no such file/);
});
