/**
 * The agent on a full state directory (a real 256 KiB tmpfs, filled until
 * ENOSPC) against a fake server: an order it cannot write is reported
 * Failed with the directory and the cause, the half-made folder removed,
 * and that outcome is replayed after a reconnect until acknowledged; an ack
 * whose `reported` marker cannot be written is survived and the journal
 * kept; through all of it the agent stays up on its first connection.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseAgentName, type AgentMessage, type DeploymentFinishedMessage, type DeploymentOrder } from '@drover/protocol';
import { mountSmallTmpfs, type SmallFilesystem } from '@drover/test-support';
import { Agent } from '../src/agent.js';
import { appendEntry } from '../src/journal/entry.js';
import { deploymentDir, files, writeOrder } from '../src/state.js';
import { fakeServer, type FakeServer } from './fake-server.js';
import { finished, ID_A, ID_B, started } from './journal-fixtures.js';

const ID_C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
const disk = mountSmallTmpfs();
const skip = typeof disk === 'string' ? disk : false;
after(() => {
  if (typeof disk !== 'string') disk.unmount();
});

const order = (id: string): DeploymentOrder => ({ id, index: 1, storePath: `/nix/store/${'a'.repeat(32)}-profile`, rollbackScript: null, cache: null });
const isFinished =
  (id: string) =>
  (m: AgentMessage): m is DeploymentFinishedMessage =>
    m.type === 'deployment.finished' && m.id === id;

function finishedOf(m: AgentMessage): DeploymentFinishedMessage {
  assert.equal(m.type, 'deployment.finished');
  return m;
}

let server: FakeServer;
let agent: Agent | undefined;
let stateDir: string;

function startAgent(fs: SmallFilesystem): void {
  agent = new Agent({
    name: parseAgentName('full'),
    server: server.url,
    token: () => 'token',
    profile: join(fs.root, 'profile'),
    stateDir,
    log: pino({ level: 'silent' }),
    pollMs: 20,
    backoff: { initialMs: 20, maxMs: 200 },
    runnerScope: 'off', // the same on a host whose test run is a systemd service
  });
  agent.start();
}

before(async () => {
  if (typeof disk === 'string') return;
  server = await fakeServer();
  stateDir = join(disk.root, 'state');
  mkdirSync(stateDir);
  // A deployment whose journal already holds its outcome: the agent replays it, the server acks.
  const dir = deploymentDir(stateDir, ID_C);
  writeOrder(dir, { deployment: order(ID_C), agent: 'full', profile: join(disk.root, 'profile'), cache: null, server: server.url, system: 'x86_64-linux' });
  appendEntry(dir, started(ID_C));
  appendEntry(dir, finished(ID_C));
  disk.fill();
});
after(async () => {
  if (typeof disk === 'string') return;
  agent?.stop();
  await server.close();
});

test('an ack whose reported marker cannot be written is survived; the journal is kept', { skip }, async () => {
  if (typeof disk === 'string') return;
  const replayed = server.next(isFinished(ID_C));
  startAgent(disk);
  assert.deepEqual(await replayed, finished(ID_C));
  server.send({ type: 'deployment.ack', id: ID_C });
  // Still alive and connected: it answers a new order.
  const answer = server.next(isFinished(ID_B));
  server.send({ type: 'deploy', deployment: order(ID_B) });
  finishedOf(await answer);
  const journal = readFileSync(files.events(deploymentDir(stateDir, ID_C)), 'utf8');
  assert.equal(journal.trim().split('\n').length, 2, 'the journaled outcome is still on disk');
  server.send({ type: 'deployment.ack', id: ID_B });
});

test('an order that cannot be written is reported Failed with the reason, and replayed until acknowledged', { skip }, async () => {
  if (typeof disk === 'string') return;
  const first = server.next(isFinished(ID_A));
  server.send({ type: 'deploy', deployment: order(ID_A) });
  const outcome = finishedOf(await first);
  assert.equal(outcome.status, 'Failed');
  assert.match(outcome.reason ?? '', new RegExp(`state directory ${stateDir} is full \\(ENOSPC\\)`));
  assert.match(outcome.reason ?? '', /DROVER_ERR_AGENT_STATE_UNWRITABLE/);
  assert.equal(existsSync(deploymentDir(stateDir, ID_A)), false, 'no half-made folder left behind');

  // Not acknowledged: the connection drops, and the outcome comes again after re-registration.
  const again = server.next(isFinished(ID_A));
  server.dropConnection();
  assert.deepEqual(await again, outcome);
  server.send({ type: 'deployment.ack', id: ID_A });

  const more = server.next(isFinished(ID_B));
  server.send({ type: 'deploy', deployment: order(ID_B) });
  finishedOf(await more);
  assert.equal(server.registrations(), 2, 'one reconnect: the one the test made');
});
