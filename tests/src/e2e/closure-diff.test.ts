/**
 * Closure diffs end to end on SQLite with the built-in cache: real `drover
 * server`, `drover push`, agents and Nix. The agent's first deployment is
 * diffed against nothing by the agent; the next one's old closure is not in
 * the cache, so the server cannot diff it and the agent does after
 * substitution (`nix path-info -r --json`); once both closures are pushed
 * the server diffs from the cache's references at creation. `drover
 * activate` prints each diff in its summary and `--json` carries it.
 * Run under `flock /work/wt/nix.lock`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Deployment, DeploymentDetail } from '@drover/protocol';
import { Teardown } from '@drover/test-support';
import { buildFixtures, deleteFromStore, isInStore, run, type Fixtures } from '../support/nix.js';
import { api, createToken, drover, makeBackend, randomName, startAgent, startServer, type DroverProcess, type ServerHandle } from '../support/drover.js';

const teardown = new Teardown();
let dir: string;
let fixtures: Fixtures;
let server: ServerHandle;
let activateToken: string;
let pushToken: string;
let agentName: string;
const procs: DroverProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'closure-diff-'));
  if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
  fixtures = await buildFixtures({ markerDir: join(dir, 'markers'), salt: randomBytes(8).toString('hex'), slowSeconds: 1 });
  const backend = await makeBackend('sqlite', dir);
  teardown.add(() => backend.cleanup());
  server = await startServer(backend);
  teardown.add(() => server.stop());
  const admin = await createToken(backend, 'admin');
  const created = await drover(['cache', 'create', 'main', '--server', server.url], { DROVER_ADMIN_TOKEN: admin });
  assert.equal(created.code, 0, created.stderr);
  pushToken = await createToken(backend, 'push', ['--cache', 'main']);
  activateToken = await createToken(backend, 'activate');
  agentName = randomName('diff');
  const home = join(dir, 'agents', agentName);
  const token = await createToken(backend, 'agent', ['--agent', agentName]);
  procs.push(await startAgent(agentName, { server: server.url, token, profile: join(home, 'profiles', 'system'), stateDir: join(home, 'state') }));
});

after(async () => {
  for (const p of procs) await p.stop('SIGKILL').catch(() => {});
  await teardown.run().catch(() => {});
});

async function activate(path: string, ...flags: string[]): Promise<{ code: number | null; stdout: string; stderr: string; deployments: Deployment[] }> {
  const spec = join(dir, `deploy-${randomBytes(4).toString('hex')}.json`);
  await writeFile(spec, JSON.stringify({ agents: { [agentName]: path } }));
  const r = await drover(['activate', spec, '--json', ...flags, '--server', server.url], { DROVER_ACTIVATE_TOKEN: activateToken });
  return { ...r, deployments: r.code === 0 ? (JSON.parse(r.stdout) as Deployment[]) : [] };
}

async function detail(id: string): Promise<DeploymentDetail> {
  const r = await api<DeploymentDetail>(server.url, activateToken, 'GET', `/deployments/${id}`);
  assert.equal(r.status, 200);
  return r.json;
}

async function push(path: string): Promise<void> {
  const r = await drover(['push', 'main', path, '--server', server.url], { DROVER_PUSH_TOKEN: pushToken });
  assert.equal(r.code, 0, r.stderr);
}

async function closureSize(path: string): Promise<number> {
  const r = await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--closure-size', '--json', path]);
  return (JSON.parse(r.stdout) as { closureSize: number }[])[0]?.closureSize ?? -1;
}

test('the agent diffs after substitution when the cache lacks the old closure; the server diffs once both are pushed', async () => {
  const a = fixtures.nixos;
  const b = fixtures.nixos_b;
  // A is deployed from the local store (not pushed): the first diff is the agent's, against nothing.
  const first = await activate(a, '--no-cache-check');
  assert.equal(first.code, 0, first.stdout + first.stderr);
  const firstDiff = first.deployments[0]?.diff;
  assert.ok(firstDiff, first.stdout);
  assert.equal(firstDiff.source, 'agent');
  assert.equal(firstDiff.from, null);
  assert.deepEqual(firstDiff.added.map((p) => p.name).sort(), ['drover-fixture-lib', 'nixos-system-fixture']);

  // B only is pushed, and deleted here, so the agent substitutes it; A is not in the cache, so the server cannot diff.
  await push(b);
  await deleteFromStore([b]);
  assert.ok(!isInStore(b));
  const second = await activate(b);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  const [d] = second.deployments;
  assert.ok(d?.diff, JSON.stringify(d));
  assert.equal(d.diff.source, 'agent');
  assert.equal(d.diff.from, a);
  assert.equal(d.diff.to, b);
  assert.deepEqual(d.diff.added, [
    { name: 'drover-fixture-lib-b', version: '' },
    { name: 'nixos-system-fixture-b', version: '' },
  ]);
  assert.deepEqual(d.diff.removed, [{ name: 'nixos-system-fixture', version: '' }]);
  assert.deepEqual(d.diff.changed, []);
  const [sizeA, sizeB] = [await closureSize(a), await closureSize(b)];
  assert.deepEqual([d.diff.sizeFrom, d.diff.sizeTo, d.diff.sizeDelta], [sizeA, sizeB, sizeB - sizeA]);
  const logged = await api<{ lines: { text: string }[] }>(server.url, activateToken, 'GET', `/deployments/${d.id}/log?after=-1`);
  assert.ok(
    logged.json.lines.some((l) => l.text.startsWith(`changes against ${a}: +2 −1 ~0 packages`)),
    'the log says it in short',
  );
  const view = await detail(d.id);
  assert.deepEqual(view.previous, { id: first.deployments[0]?.id, storePath: a, status: 'Succeeded' });

  // With both closures in the cache the server diffs at creation (B → A), and the summary line says it.
  await push(a);
  const spec = join(dir, 'back.json');
  await writeFile(spec, JSON.stringify({ agents: { [agentName]: a } }));
  const third = await drover(['activate', spec, '--server', server.url], { DROVER_ACTIVATE_TOKEN: activateToken });
  assert.equal(third.code, 0, third.stdout + third.stderr);
  assert.match(third.stdout, new RegExp(`\\[${agentName}\\] Deployed successfully \\(#3 in [^)]*\\); changes: \\+1 −2 ~0 packages, −[\\d.]+ (B|KiB)`));
  const back = (await api<{ deployments: Deployment[] }>(server.url, activateToken, 'GET', `/deployments?agent=${agentName}&limit=1`)).json.deployments[0];
  assert.equal(back?.diff?.source, 'server');
  assert.deepEqual(
    back.diff.removed.map((p) => p.name),
    ['drover-fixture-lib-b', 'nixos-system-fixture-b'],
  );
  assert.equal(back.diff.sizeDelta, sizeA - sizeB);
});
