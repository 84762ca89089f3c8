/**
 * The core deploy loop end to end, defined once and run on SQLite and on
 * PostgreSQL: real `drover server`, real agents, real `drover activate`,
 * real Nix substitution from a signed cache, real profiles and activation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeAgent, type Agent, type Deployment } from '@drover/protocol';
import { buildFixtures, deleteFromStore, isInStore, readActivations, startTestCache } from '../support/nix.js';
import { bundledAgentPath } from '@drover/test-support';
import { api, createToken, drover, spawnDrover, waitFor, type BackendKind } from '../support/drover.js';
import { activePath, deploymentIds, generations, World } from './harness.js';

/** A well-formed store path that no cache has. */
const MISSING_PATH = '/nix/store/0000000000000000000000000000000a-not-in-any-cache';

export function defineDeploySuite(kind: BackendKind): void {
  describe(`core deploy loop on ${kind}`, { timeout: 600_000 }, () => {
    const world = new World(kind);
    before(() => world.setUp());
    after(() => world.tearDown());

    test('NixOS closure with a passing rollbackScript: substituted, activated, logged live, exit 0', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      const spec = await world.specFile({ [agent.name]: f.nixos }, f.rollback_ok);
      const r = await world.activate([spec]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const id = deploymentIds(r.stdout).get(agent.name);
      assert.ok(id, `activate prints [NAME] URL:\n${r.stdout}`);
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\] \\$ nix-store --realise ${f.nixos}`, 'm'));
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\] \\$ nix-env -p ${agent.profile} --set ${f.nixos}`, 'm'));
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\] \\$ ${f.nixos}/bin/switch-to-configuration switch`, 'm'));
      assert.match(r.stdout, /switching to configuration/);
      assert.doesNotMatch(r.stdout, /LEAK: DROVER_AGENT_TOKEN/, 'activation scripts never see the agent token');
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\] Deployed successfully \\(#1`, 'm'));
      assert.equal(await activePath(agent.profile), f.nixos);
      assert.ok(isInStore(f.nixos) && isInStore(f.rollback_ok));
      const log = await readActivations(f.markerDir);
      assert.ok(log.includes(`nixos switch ${f.nixos}`), log.join('\n'));
      assert.ok(
        log.some((l) => l.startsWith(`rollback-script ok ${f.rollback_ok}`)),
        log.join('\n'),
      );

      const d = await world.deployment(id);
      assert.equal(d.status, 'Succeeded');
      assert.equal(d.index, 1);
      assert.equal(d.storePath, f.nixos);
      assert.ok(d.closureSize && d.closureSize > 0, 'closure size reported');
      assert.ok(d.startedAt && d.finishedAt && d.createdAt);

      const agents = await drover(['agents', '--json', '--server', world.server.url], { DROVER_ACTIVATE_TOKEN: world.activateToken });
      const listed = (JSON.parse(agents.stdout) as Agent[]).find((a) => a.name === agent.name);
      assert.equal(listed?.online, true);
      assert.equal(listed.currentStorePath, f.nixos);
      assert.equal(listed.lastDeployment?.status, 'Succeeded');
      const history = await drover(['deployments', '--agent', agent.name, '--json', '--server', world.server.url], {
        DROVER_ACTIVATE_TOKEN: world.activateToken,
      });
      const [row] = JSON.parse(history.stdout) as Deployment[];
      for (const key of ['id', 'agent', 'index', 'storePath', 'status', 'createdAt', 'startedAt', 'finishedAt', 'closureSize'] as const) {
        assert.ok(row?.[key] !== undefined && row[key] !== null, `deployments --json has ${key}`);
      }
      // Log lines are stored in order with an explicit end, not a magic line.
      const lines = await world.logOf(id);
      assert.deepEqual(
        lines.map((l) => l.seq),
        lines.map((_, i) => i),
      );
    });

    test('the single-file agent, copied alone to an empty directory, deploys a NixOS closure: Succeeded, profile switched', async () => {
      const f = world.fixtures;
      const dir = join(world.dir, 'single-file-agent');
      await mkdir(dir);
      const script = join(dir, 'drover-agent.mjs');
      await copyFile(await bundledAgentPath(), script);
      const agent = await world.agent({ script });
      const spec = await world.specFile({ [agent.name]: f.nixos });
      const r = await world.activate([spec]);
      assert.equal(r.code, 0, r.stdout + r.stderr + agent.proc.output);
      const id = deploymentIds(r.stdout).get(agent.name);
      assert.ok(id, `activate prints [NAME] URL:\n${r.stdout}`);
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\] \\$ ${f.nixos}/bin/switch-to-configuration switch`, 'm'));
      assert.match(r.stdout, new RegExp(`^\\[${agent.name}\\] Deployed successfully \\(#1`, 'm'));
      assert.equal((await world.deployment(id)).status, 'Succeeded');
      assert.equal(await activePath(agent.profile), f.nixos, 'the profile is switched');
      // Its runner is the same file (`node drover-agent.mjs __drover-runner DIR`): there is no runner/main.js beside it.
      assert.deepEqual(await readdir(dir), ['drover-agent.mjs'], 'the one file was all it needed');
    });

    test('home-manager, plain and nix-darwin profiles, two agents sharing one machine', async () => {
      const f = world.fixtures;
      const [hm, plain, darwin] = await Promise.all([world.agent(), world.agent(), world.agent()]);
      const spec = await world.specFile({ [hm.name]: f.home_manager, [plain.name]: f.plain, [darwin.name]: f.darwin });
      const r = await world.activate([spec]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(await activePath(hm.profile), f.home_manager);
      assert.equal(await activePath(plain.profile), f.plain);
      assert.equal(await activePath(darwin.profile), f.darwin);
      assert.match(r.stdout, new RegExp(`\\$ ${f.home_manager}/activate`));
      assert.match(r.stdout, new RegExp(`\\$ ${f.darwin}/sw/bin/darwin-rebuild activate`));
      assert.match(r.stdout, /profile type: home-manager/);
      assert.match(r.stdout, /profile type: plain/);
      assert.match(r.stdout, /profile type: nix-darwin/);
      const log = await readActivations(f.markerDir);
      assert.ok(
        log.some((l) => l.startsWith(`home-manager `) && l.endsWith(f.home_manager)),
        log.join('\n'),
      );
      assert.ok(log.includes(`darwin activate ${f.darwin}`), log.join('\n'));
      assert.equal((r.stdout.match(/Deployed successfully/g) ?? []).length, 3);
    });

    test('failing activation: the previously active path is re-activated, exit 1', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      assert.equal((await world.activate([await world.specFile({ [agent.name]: f.nixos })])).code, 0);
      const before = (await readActivations(f.markerDir)).length;
      const r = await world.activate([await world.specFile({ [agent.name]: f.nixos_failing })]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /activation failed on purpose/);
      assert.match(r.stdout, new RegExp(`Failed to deploy \\(#2.*activation failed.*rolled back to ${f.nixos}`));
      assert.equal(await activePath(agent.profile), f.nixos, 'profile points to the previous path again');
      const log = (await readActivations(f.markerDir)).slice(before);
      assert.deepEqual(log, [`nixos switch ${f.nixos_failing}`, `nixos switch ${f.nixos}`], 'the previous path was re-activated');
    });

    test('failing rollbackScript (health check): rolled back to the previous path', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      assert.equal((await world.activate([await world.specFile({ [agent.name]: f.nixos })])).code, 0);
      const r = await world.activate([await world.specFile({ [agent.name]: f.nixos_b }, f.rollback_fail)]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /health check failed on purpose/);
      assert.match(r.stdout, new RegExp(`rollbackScript failed.*rolled back to ${f.nixos}`));
      assert.equal(await activePath(agent.profile), f.nixos);
      const listed = await api(world.server.url, world.activateToken, 'GET', `/agents/${agent.name}`, undefined, decodeAgent);
      assert.equal(listed.json.currentStorePath, f.nixos, 'the server knows what is active after the rollback');
    });

    test('first deployment failing: nothing to roll back to, and it says so', async () => {
      const agent = await world.agent();
      const r = await world.activate([await world.specFile({ [agent.name]: world.fixtures.nixos_failing })]);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /first deployment to this profile, so there was nothing to roll back to/);
    });

    test('store path missing from the cache: Failed with the reason, profile untouched', async () => {
      const agent = await world.agent();
      assert.equal((await world.activate([await world.specFile({ [agent.name]: world.fixtures.plain })])).code, 0);
      const gens = await generations(agent.profile);
      // The agent's own failure is the point: skip activate's check that refuses the path up front.
      const r = await world.activate([await world.specFile({ [agent.name]: MISSING_PATH }), '--no-cache-check']);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`Failed to deploy.*could not fetch ${MISSING_PATH}.*the profile was not changed`));
      assert.equal(await activePath(agent.profile), world.fixtures.plain);
      assert.deepEqual(await generations(agent.profile), gens, 'no new generation');
    });

    test('wrongly signed path: refused, nothing added to the store, profile untouched', async () => {
      // A second cache signs with its own key; the workspace trusts only the first cache's key.
      const other = await startTestCache({ keyName: 'untrusted' });
      world.onTearDown(() => other.close());
      const salt = `wrongsig-${Date.now()}`;
      const extra = await buildFixtures({ markerDir: join(world.dir, 'markers-wrongsig'), salt });
      await other.push([extra.plain]);
      await deleteFromStore([extra.plain]);
      const ws = `wrongsig-${kind}`;
      assert.equal((await drover(['workspace', 'create', ws, ...world.backend.flags])).code, 0);
      const cache = await drover(['workspace', 'cache', ws, '--substituter', other.url, '--public-key', world.cache.publicKey, ...world.backend.flags]);
      assert.equal(cache.code, 0, cache.stderr);
      const agentToken = await createToken(world.backend, 'agent', ['--workspace', ws, '--unbound']);
      const activateToken = await createToken(world.backend, 'activate', ['--workspace', ws]);
      const agent = await world.agent({ token: agentToken });
      const r = await world.activate([await world.specFile({ [agent.name]: extra.plain })], activateToken);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /is not signed by any of the keys/);
      assert.match(r.stdout, /Failed to deploy.*could not fetch/);
      assert.equal(isInStore(extra.plain), false);
      assert.equal(await activePath(agent.profile), null);
      // Workspaces are isolated: the default workspace's token cannot see or deploy to this agent.
      const cross = await world.activate([await world.specFile({ [agent.name]: extra.plain })]);
      assert.equal(cross.code, 1);
      assert.match(cross.stderr, /unknown agent/);
    });

    test('a workspace cache set after the agent connected is used by its next deployment', async () => {
      const ws = `late-cache-${kind}`;
      assert.equal((await drover(['workspace', 'create', ws, ...world.backend.flags])).code, 0);
      const agent = await world.agent({ token: await createToken(world.backend, 'agent', ['--workspace', ws, '--unbound']) });
      const fresh = await buildFixtures({ markerDir: join(world.dir, 'markers-late-cache'), salt: `late-cache-${Date.now()}` });
      await world.cache.push([fresh.plain]);
      await deleteFromStore([fresh.plain]);
      const set = await drover(['workspace', 'cache', ws, '--substituter', world.cache.url, '--public-key', world.cache.publicKey, ...world.backend.flags]);
      assert.equal(set.code, 0, set.stderr);
      const activateToken = await createToken(world.backend, 'activate', ['--workspace', ws]);
      const r = await world.activate([await world.specFile({ [agent.name]: fresh.plain })], activateToken);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`fetching from ${world.cache.url}`));
      assert.equal(await activePath(agent.profile), fresh.plain);
    });

    test('agent offline during two activates: only the latest is applied when it reconnects', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      await agent.proc.stop();
      await waitFor('agent shown offline', async () => {
        const a = await api(world.server.url, world.activateToken, 'GET', `/agents/${agent.name}`, undefined, decodeAgent);
        return !a.json.online;
      });
      const first = await world.activate([await world.specFile({ [agent.name]: f.nixos }), '--async']);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`\\[${agent.name}\\] offline since .*, deploys when it reconnects`));
      const second = await world.activate([await world.specFile({ [agent.name]: f.nixos_b }), '--async']);
      const firstId = deploymentIds(first.stdout).get(agent.name)!;
      const secondId = deploymentIds(second.stdout).get(agent.name)!;
      assert.equal((await world.deployment(firstId)).status, 'Superseded');
      await agent.restart();
      const done = await world.waitForStatus(secondId, 'Succeeded');
      assert.equal(done.index, 2);
      const superseded = await world.deployment(firstId);
      assert.equal(superseded.status, 'Superseded');
      assert.equal(superseded.startedAt, null, 'the older deployment never ran');
      assert.equal(await activePath(agent.profile), f.nixos_b);
      assert.deepEqual(await generations(agent.profile), ['system-1-link'], 'exactly one generation: only the latest was applied');
    });

    test('an agent declared by a bound token is deployed to before it ever connects, rollbackScript included', async () => {
      const f = world.fixtures;
      const name = `declared-${kind}`;
      const token = await createToken(world.backend, 'agent', ['--agent', name]);
      const r = await world.activate([await world.specFile({ [name]: f.plain }, f.rollback_ok), '--async']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`\\[${name}\\] has not connected yet, deploys when it connects`));
      const id = deploymentIds(r.stdout).get(name)!;
      const agent = await world.agent({ name, token });
      await world.waitForStatus(id, 'Succeeded');
      assert.equal(await activePath(agent.profile), f.plain);
      const lines = (await world.logOf(id)).map((l) => l.text);
      assert.ok(lines.includes(`$ ${f.rollback_ok}`), "the rollbackScript for the agent's system ran");
      assert.equal((await world.deployment(id)).rollbackScript, f.rollback_ok);
    });

    test('a second activate while one is running waits its turn; the profile ends on the newest path', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      const first = await world.activate([await world.specFile({ [agent.name]: f.nixos_slow }), '--async']);
      const firstId = deploymentIds(first.stdout).get(agent.name)!;
      await world.waitForStatus(firstId, 'InProgress');
      const second = await world.activate([await world.specFile({ [agent.name]: f.nixos })]);
      assert.equal(second.code, 0, second.stdout + second.stderr);
      const a = await world.deployment(firstId);
      const b = await world.deployment(deploymentIds(second.stdout).get(agent.name)!);
      assert.equal(a.status, 'Succeeded');
      assert.equal(b.index, a.index + 1);
      assert.ok(Date.parse(b.startedAt!) >= Date.parse(a.finishedAt!), 'deployments to one profile never overlap');
      assert.equal(await activePath(agent.profile), f.nixos);
      assert.equal((await generations(agent.profile)).length, 2);
    });

    test('agent SIGKILLed during a slow activation: the outcome is still reported', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      const activate = world.track(
        spawnDrover('activate', ['activate', await world.specFile({ [agent.name]: f.nixos_slow }), '--server', world.server.url], {
          DROVER_ACTIVATE_TOKEN: world.activateToken,
        }),
      );
      await activate.waitForOutput(/activating slowly/);
      await agent.proc.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 1000));
      await agent.restart();
      assert.equal(await activate.exited, 0, activate.output);
      assert.match(activate.output, /slow activation finished/);
      assert.match(activate.output, /Deployed successfully/);
      assert.equal(await activePath(agent.profile), f.nixos_slow);
    });

    // SQLite: the server is SIGKILLed; PostgreSQL: stopped gracefully (SIGTERM), which must not hang on open streams.
    const hard = kind === 'sqlite';
    test(`server ${hard ? 'killed' : 'stopped'} and restarted mid-deployment: nothing is lost`, async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      const activate = world.track(
        spawnDrover('activate', ['activate', await world.specFile({ [agent.name]: f.nixos_slow }), '--server', world.server.url], {
          DROVER_ACTIVATE_TOKEN: world.activateToken,
        }),
      );
      await activate.waitForOutput(/activating slowly/);
      const old = world.server.proc;
      await world.server.restart(hard);
      if (!hard) assert.equal(await old.exited, 0, `graceful shutdown exits 0:\n${old.output}`);
      assert.equal(await activate.exited, 0, activate.output);
      assert.match(activate.output, /Deployed successfully/);
      const id = deploymentIds(activate.output).get(agent.name)!;
      const lines = await world.logOf(id);
      assert.deepEqual(
        lines.map((l) => l.seq),
        lines.map((_, i) => i),
        'no gaps in the stored log',
      );
      assert.ok(
        lines.some((l) => l.text === 'slow activation finished'),
        'lines written while the server was down arrived',
      );
      assert.ok(lines.some((l) => l.text.startsWith('activated ')));
      assert.equal((await world.deployment(id)).status, 'Succeeded');
    });

    test('bad and revoked tokens: 401 with a clear message, the agent keeps running', async () => {
      const bogus = `drover_activate_0123456789abcdef_${'0'.repeat(64)}`;
      const r = await world.activate([await world.specFile({ x: world.fixtures.plain })], bogus);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /error: token 0123456789abcdef is not known to this server/);
      assert.match(r.stderr, /hint: /);
      const raw = await api<{ code: string; message: string; hint: string }>(world.server.url, 'not-a-token', 'GET', '/agents');
      assert.equal(raw.status, 401);
      assert.equal(raw.json.code, 'DROVER_ERR_UNAUTHORIZED');
      assert.match(raw.json.message, /malformed/);

      const token = await createToken(world.backend, 'agent', ['--unbound']);
      const id = token.split('_')[2]!;
      const agent = await world.agent({ token });
      const revoke = await drover(['token', 'revoke', id, '--server', world.server.url], { DROVER_ADMIN_TOKEN: world.adminToken });
      assert.equal(revoke.code, 0, revoke.stderr);
      await agent.proc.waitForOutput(/the server closed the connection \(4401 DROVER_ERR_TOKEN_REVOKED\): the agent token was revoked/);
      assert.equal(agent.proc.running, true, 'no crash loop: the agent waits and retries');
      const late = await world.agent({ token, waitRegistered: false });
      await late.proc.waitForOutput(/rejected the agent token \(HTTP 401\) — DROVER_ERR_TOKEN_REVOKED: token [0-9a-f]{16} was revoked/);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((late.proc.output.match(/rejected the agent token/g) ?? []).length, 1, 'one clear line, then a slow retry');
      assert.equal(late.proc.running, true);
      const listed = await drover(['token', 'list', '--json', ...world.backend.flags]);
      const tokens = JSON.parse(listed.stdout) as { id: string; revokedAt: string | null }[];
      assert.ok(tokens.find((t) => t.id === id)?.revokedAt);
      assert.ok(!listed.stdout.includes(token.split('_')[3]!), 'secrets are never listed');
    });

    test('--token-file is read again on every attempt: replacing a revoked token reconnects without a restart', async () => {
      const revoked = await createToken(world.backend, 'agent', ['--unbound']);
      assert.equal((await drover(['token', 'revoke', revoked.split('_')[2]!, ...world.backend.flags])).code, 0);
      const file = join(world.dir, `token-${kind}`);
      await writeFile(file, revoked + '\n', { mode: 0o600 });
      const agent = await world.agent({ waitRegistered: false, extraArgs: ['--token-file', file, '--auth-retry', '1s'], env: {} });
      await agent.proc.waitForOutput(/rejected the agent token \(HTTP 401\) — DROVER_ERR_TOKEN_REVOKED/);
      await writeFile(file, (await createToken(world.backend, 'agent', ['--unbound'])) + '\n');
      await agent.proc.waitForOutput(/registered with the server/, 15_000);
      assert.ok(!agent.proc.output.includes(revoked), 'the token never appears in logs');
    });

    test('malformed deploy.json and unknown agents: 4xx naming each problem, nothing created', async () => {
      const before = await api<{ deployments: Deployment[] }>(world.server.url, world.activateToken, 'GET', '/deployments?limit=1000');
      const badJson = join(world.dir, 'bad.json');
      await import('node:fs/promises').then((fs) => fs.writeFile(badJson, '{"agents": {"a": '));
      const r1 = await world.activate([badJson]);
      assert.equal(r1.code, 1);
      assert.match(r1.stderr, /bad\.json is not valid JSON/);

      const agent = await world.agent();
      const spec = join(world.dir, 'mixed.json');
      await import('node:fs/promises').then((fs) =>
        fs.writeFile(spec, JSON.stringify({ agents: { [agent.name]: world.fixtures.plain, 'no-such-agent': world.fixtures.plain } })),
      );
      const r2 = await world.activate([spec]);
      assert.equal(r2.code, 1);
      assert.match(r2.stderr, /unknown agent "no-such-agent"/);
      const direct = await api<{ code: string; details: { path: string; code: string }[] }>(world.server.url, world.activateToken, 'POST', '/activate', {
        agents: { [agent.name]: '/tmp/not-a-store-path', 'ghost-1': world.fixtures.plain, 'bad name': world.fixtures.plain },
      });
      assert.equal(direct.status, 400);
      assert.equal(direct.json.code, 'DROVER_ERR_INVALID_DEPLOY_SPEC');
      const paths = direct.json.details.map((d) => `${d.path} ${d.code}`).sort();
      assert.deepEqual(paths, [
        `/agents/${agent.name} DROVER_ERR_INVALID_STORE_PATH`,
        '/agents/bad name DROVER_ERR_INVALID_AGENT_NAME',
        '/agents/ghost-1 DROVER_ERR_UNKNOWN_AGENT',
      ]);
      const afterList = await api<{ deployments: Deployment[] }>(world.server.url, world.activateToken, 'GET', '/deployments?limit=1000');
      assert.equal(afterList.json.deployments.length, before.json.deployments.length, 'nothing was created');
      assert.equal((await readFile(spec, 'utf8')).length > 0, true);
    });

    test('--timeout expires: exit 2, the deployment stays pending and can be cancelled', async () => {
      const agent = await world.agent();
      await agent.proc.stop();
      const r = await world.activate([await world.specFile({ [agent.name]: world.fixtures.plain }), '--timeout', '2s']);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stdout, /Deployment not started/);
      const id = deploymentIds(r.stdout).get(agent.name)!;
      assert.equal((await world.deployment(id)).status, 'Pending');
      const cancel = await api<Deployment>(world.server.url, world.activateToken, 'POST', `/deployments/${id}/cancel`);
      assert.equal(cancel.status, 200);
      assert.equal(cancel.json.status, 'Cancelled');
      const again = await api<{ code: string }>(world.server.url, world.activateToken, 'POST', `/deployments/${id}/cancel`);
      assert.equal(again.status, 409);
      assert.equal(again.json.code, 'DROVER_ERR_NOT_CANCELLABLE');
      await agent.restart();
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await activePath(agent.profile), null, 'a cancelled deployment never runs');
    });
  });
}
