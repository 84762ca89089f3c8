/**
 * The agent process's part in secrets (agent.ts): its hello carries the
 * recipient of its identity (none without one), and at start it writes
 * again the missing files of the last applied set before it connects —
 * after a reboot /run is empty — and logs a declared secret it never got.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { Encrypter } from 'age-encryption';
import { parseAgentName, type HelloMessage } from '@drover/protocol';
import { tempDir } from '@drover/test-support';
import { Agent } from '../src/agent.js';
import { saveApplied } from '../src/secrets/applied.js';
import { defaultIdentityFile, loadIdentity, type AgentIdentity } from '../src/secrets/identity.js';
import { fakeServer } from './fake-server.js';

const server = await fakeServer();
const root = await tempDir('drover-agent-secrets-test-');
after(async () => {
  await server.close();
  await root.remove();
});

function startAgent(stateDir: string, identity: AgentIdentity | undefined, lines: string[], declaredSecretsFile?: string): Agent {
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push((JSON.parse(line) as { msg: string }).msg) });
  const agent = new Agent({
    name: parseAgentName('sec-1'),
    server: server.url,
    token: () => 'token',
    profile: join(stateDir, 'profile'),
    stateDir,
    log,
    pollMs: 20,
    backoff: { initialMs: 20, maxMs: 200 },
    runnerScope: 'off',
    identity,
    declaredSecretsFile,
  });
  agent.start();
  return agent;
}

test('the hello carries the recipient; at start missing secret files are written again before connecting; a declared secret not received is logged', async () => {
  const stateDir = join(root.path, 'state');
  const identity = loadIdentity(defaultIdentityFile(stateDir));
  const encrypter = new Encrypter();
  encrypter.addRecipient(identity.recipient);
  const path = join(root.path, 'run', 'db');
  saveApplied(stateDir, [
    {
      name: 'db',
      path,
      owner: null,
      group: null,
      mode: 0o400,
      version: 3,
      ciphertext: Buffer.from(await encrypter.encrypt('after-reboot')).toString('base64'),
    },
  ]);
  const declared = join(root.path, 'declared.json');
  writeFileSync(declared, JSON.stringify({ secrets: { db: { path, owner: null, group: null, mode: '0400' }, api: { path: '/run/drover/secrets/api' } } }));
  const lines: string[] = [];
  const hello = server.next((m) => m.type === 'hello');
  const agent = startAgent(stateDir, identity, lines, declared);
  try {
    const first = (await hello) as HelloMessage;
    assert.equal(first.recipient, identity.recipient);
    assert.equal(readFileSync(path, 'utf8'), 'after-reboot', 'written before the hello');
    assert.ok(
      lines.some((l) => l.startsWith(`secret db: wrote ${path} (version 3`)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => l.startsWith('declared secret "api" (/run/drover/secrets/api) was not set for this agent: run `drover secret set api --agent sec-1')),
      lines.join('\n'),
    );
    assert.ok(!lines.join('\n').includes('after-reboot'), 'no plaintext in the log');
  } finally {
    agent.stop();
  }
});

test('without an identity the hello has no recipient; a set that does not decrypt is logged, and the agent still connects', async () => {
  const stateDir = join(root.path, 'state-2');
  const identity = loadIdentity(defaultIdentityFile(stateDir));
  saveApplied(stateDir, [{ name: 'db', path: join(root.path, 'never'), owner: null, group: null, mode: 0o400, version: 1, ciphertext: 'AAAA' }]);
  rmSync(identity.file);
  const lines: string[] = [];
  const hello = server.next((m) => m.type === 'hello');
  const agent = startAgent(stateDir, undefined, lines);
  try {
    const first = (await hello) as HelloMessage;
    assert.equal(first.recipient, undefined);
    assert.ok(
      lines.some((l) => l.startsWith('cannot write the secrets of the last deployment again: this agent was started without an age identity')),
      lines.join('\n'),
    );
    assert.equal(existsSync(join(root.path, 'never')), false);
  } finally {
    agent.stop();
  }
});
