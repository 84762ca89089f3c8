/**
 * `drover deploy` of a local flake end to end, real Nix and a real server on
 * SQLite: a flake with no inputs (a temporary `path:` flake) whose
 * deploy.agents are fake NixOS and Home Manager configurations wrapping the
 * fixture closures is evaluated, built, pushed to the workspace's built-in
 * cache and activated; evaluation and build failures deploy and push nothing.
 * scripts/ci/deploy.sh (what the GitHub action runs) is run here too, in
 * both of its modes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Teardown } from '@drover/test-support';
import { readActivations, repoRoot, run } from '../support/nix.js';
import {
  api,
  createToken,
  drover,
  makeBackend,
  randomName,
  startAgent,
  startServer,
  type Backend,
  type DroverProcess,
  type ServerHandle,
} from '../support/drover.js';
import { activePath } from './harness.js';

const FLAKE_FLAGS = ['--extra-experimental-features', 'nix-command flakes'];

/** Agent name → Nix expression (with `f` the fixtures) of its configuration. */
type FakeAgents = Readonly<Record<string, string>>;

describe('drover deploy of a local flake', { timeout: 900_000 }, () => {
  const teardown = new Teardown();
  const procs: DroverProcess[] = [];
  let dir: string;
  let server: ServerHandle;
  let tokens: { activate: string; push: string; admin: string };
  let system: string;
  let backend: Backend;
  const cache = 'main';
  const markerDir = () => join(dir, 'markers');

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'e2e-flake-deploy-'));
    if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
    const sys = await run('nix-instantiate', ['--eval', '--json', '--expr', 'builtins.currentSystem'], { timeoutMs: 30_000 });
    system = JSON.parse(sys.stdout) as string;
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    teardown.add(() => server.stop());
    tokens = {
      activate: await createToken(backend, 'activate'),
      push: await createToken(backend, 'push'),
      admin: await createToken(backend, 'admin'),
    };
    const created = await drover(['cache', 'create', cache, '--public', '--server', server.url], { DROVER_ADMIN_TOKEN: tokens.admin });
    assert.equal(created.code, 0, created.stderr);
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL').catch(() => {});
    await teardown.run();
  });

  async function agent(): Promise<{ name: string; profile: string }> {
    const name = randomName('flake');
    const home = join(dir, 'agents', name);
    const token = await createToken(backend, 'agent', ['--agent', name]);
    const profile = join(home, 'profiles', 'system');
    procs.push(await startAgent(name, { server: server.url, token, profile, stateDir: join(home, 'state') }));
    return { name, profile };
  }

  /** A path: flake with no inputs; its own copy of fixtures.nix with a fresh salt, so every path is new. */
  async function flake(agents: FakeAgents, extra = ''): Promise<string> {
    const flakeDir = await mkdtemp(join(dir, 'flake-'));
    await copyFile(join(repoRoot(), 'tests', 'fixtures', 'fixtures.nix'), join(flakeDir, 'fixtures.nix'));
    await mkdir(markerDir(), { recursive: true });
    const salt = randomBytes(8).toString('hex');
    const body = Object.entries(agents)
      .map(([name, expr]) => `        ${JSON.stringify(name)} = ${expr};`)
      .join('\n');
    await writeFile(
      join(flakeDir, 'flake.nix'),
      `{
  outputs = { self }:
    let f = import ./fixtures.nix { salt = "${salt}"; markerDir = ${JSON.stringify(markerDir())}; system = "${system}"; };
    in {
      deploy.agents = {
${body}
      };
      deploy.rollbackScript.${system} = f.rollback_ok;
      ${extra}
    };
}
`,
    );
    return `path:${flakeDir}`;
  }

  const nixos = (attr: string) => `{ config.system.build.toplevel = f.${attr}; options = { }; }`;
  const home = (attr: string) => `{ activationPackage = f.${attr}; config = { }; }`;
  const env = () => ({ DROVER_ACTIVATE_TOKEN: tokens.activate, DROVER_PUSH_TOKEN: tokens.push });
  const deploy = (args: readonly string[]) => drover(['deploy', ...args, '--server', server.url], env());
  const paths = async (ref: string, attr: string) => {
    const r = await run('nix', ['eval', ...FLAKE_FLAGS, '--raw', `${ref}#deploy.agents.${attr}`], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };
  const cachePaths = async () => (await api<{ paths: number }>(server.url, tokens.activate, 'GET', `/caches/${cache}`)).json.paths;
  const deploymentsOf = async (name: string) =>
    (await api<{ deployments: unknown[] }>(server.url, tokens.activate, 'GET', `/deployments?agent=${name}`)).json.deployments.length;

  test('builds, pushes to the built-in cache, agents switch, exit 0', async () => {
    const [web, laptop] = [await agent(), await agent()];
    const ref = await flake({ [web.name]: nixos('nixos'), [laptop.name]: home('home_manager') });
    const before = await cachePaths();
    const r = await deploy([ref]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const webPath = await paths(ref, `"${web.name}".config.system.build.toplevel`);
    const laptopPath = await paths(ref, `"${laptop.name}".activationPackage`);
    assert.equal(await activePath(web.profile), webPath);
    assert.equal(await activePath(laptop.profile), laptopPath);
    // The same output as activate: the header, [NAME] URL lines, live log lines, the summary.
    assert.match(r.stdout, /^Deploying 2 agents \(activation [0-9a-f-]{36}\):$/m);
    assert.match(r.stdout, new RegExp(`^\\[${web.name}\\] \\$ ${webPath}/bin/switch-to-configuration switch`, 'm'));
    assert.match(r.stdout, /^Deployment summary:$/m);
    assert.equal((r.stdout.match(/Deployed successfully/g) ?? []).length, 2);
    assert.match(r.stderr, /pushing \d+/, 'push reports what it sent');
    const log = await readActivations(markerDir());
    assert.ok(log.includes(`nixos switch ${webPath}`), log.join('\n'));
    assert.ok(
      log.some((l) => l.startsWith('rollback-script ok ')),
      'the rollbackScript ran',
    );
    // Both closures and the rollbackScript are in the built-in cache (each has a shared lib path besides its top path).
    for (const p of [webPath, laptopPath]) {
      const res = await fetch(`${server.url}/cache/${cache}/${p.slice('/nix/store/'.length, '/nix/store/'.length + 32)}.narinfo`);
      assert.equal(res.status, 200, `${p} is in the cache`);
      await res.arrayBuffer();
    }
    assert.ok((await cachePaths()) >= before + 4, 'the closures were pushed');
  });

  test('--on deploys only the agents named; --json prints the deployments', async () => {
    const [a, b] = [await agent(), await agent()];
    const ref = await flake({ [a.name]: nixos('nixos'), [b.name]: nixos('nixos_b') });
    const r = await deploy([ref, '--on', b.name, '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout) as { status: string; agent: string }[];
    assert.deepEqual(
      out.map((d) => d.status),
      ['Succeeded'],
    );
    assert.equal(await activePath(a.profile), null, 'the agent not named was not deployed');
    assert.equal(await deploymentsOf(a.name), 0);
    const unknown = await deploy([ref, '--on', 'nobody']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--on nobody: not in path:.*#deploy\.agents \(it has: /);
  });

  test('a flake that fails to evaluate: exit 1, the agent and Nix error named, nothing pushed or deployed', async () => {
    const [good, bad] = [await agent(), await agent()];
    const before = await cachePaths();
    for (const [expr, message] of [
      [`{ activationPackage = throw "broken on purpose"; }`, /broken on purpose/],
      ['42', /is a int; expected a NixOS, nix-darwin or Home Manager configuration/],
    ] as const) {
      const ref = await flake({ [good.name]: nixos('nixos'), [bad.name]: expr });
      const r = await deploy([ref]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, new RegExp(`error: evaluating path:.*#deploy \\(agent "${bad.name}"\\) failed: `));
      assert.match(r.stderr, message);
      assert.match(r.stderr, /hint: Fix the flake's `deploy` output/);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
    const syntax = await flake({ [good.name]: '{ config = ' });
    const r = await deploy([syntax]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: evaluating .* failed: syntax error/);
    assert.equal(await cachePaths(), before, 'nothing pushed');
    assert.equal(await deploymentsOf(good.name), 0, 'no deployment created');
    assert.equal(await deploymentsOf(bad.name), 0);
  });

  test('a build failure: exit 1, the agent named, nothing pushed or deployed', async () => {
    const [good, bad] = [await agent(), await agent()];
    const broken = `{ config.system.build.toplevel = derivation { name = "broken-toplevel"; system = "${system}"; builder = "/bin/sh"; args = [ "-c" "echo failing to build on purpose >&2; exit 3" ]; }; }`;
    const ref = await flake({ [good.name]: nixos('nixos'), [bad.name]: broken });
    const before = await cachePaths();
    const r = await deploy([ref]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`error: building failed for agent "${bad.name}"; nothing was pushed or deployed: builder for '.*-broken-toplevel\\.drv' failed`),
    );
    assert.match(r.stderr, /failing to build on purpose/);
    assert.doesNotMatch(r.stderr.split('error: building failed')[1] ?? '', new RegExp(good.name), 'the agent that built is not blamed');
    assert.equal(await cachePaths(), before, 'nothing pushed');
    assert.equal(await deploymentsOf(good.name), 0, 'no deployment created');
  });

  test('missing tokens fail before Nix runs', async () => {
    const r = await drover(['deploy', 'path:/nonexistent', '--server', server.url], { DROVER_ACTIVATE_TOKEN: tokens.activate, DROVER_PUSH_TOKEN: '' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no push token: set DROVER_PUSH_TOKEN/);
    assert.doesNotMatch(r.stderr, /evaluating/);
  });

  test('the cache: --cache must exist; an external workspace cache is refused unless --cache names a built-in one', async () => {
    const ref = 'path:/nonexistent-flake'; // never evaluated: the cache is chosen first
    const unknown = await deploy([ref, '--cache', 'nosuch']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /error: --cache nosuch: workspace default has no such cache \(it has: main\)/);
    const set = await drover([
      'workspace',
      'cache',
      'default',
      '--substituter',
      'https://cache.example.com',
      '--public-key',
      `example-1:${'A'.repeat(43)}=`,
      ...backend.flags,
    ]);
    assert.equal(set.code, 0, set.stderr);
    try {
      const external = await deploy([ref]);
      assert.equal(external.code, 1);
      assert.match(
        external.stderr,
        /error: agents of workspace default substitute from the external cache https:\/\/cache\.example\.com, which drover deploy cannot push to/,
      );
      assert.match(external.stderr, /hint: Create a built-in cache/);
      assert.doesNotMatch(external.stderr, /evaluating/, 'Nix never ran');
      const chosen = await deploy([ref, '--cache', cache]);
      assert.match(chosen.stderr, /note: agents of workspace default substitute from https:\/\/cache\.example\.com, not main/);
      assert.match(chosen.stderr, /evaluating path:\/nonexistent-flake#deploy/, 'with --cache it goes on');
    } finally {
      const clear = await drover(['workspace', 'cache', 'default', '--clear', ...backend.flags]);
      assert.equal(clear.code, 0, clear.stderr);
    }
  });

  describe('scripts/ci/deploy.sh (the GitHub action runs it)', () => {
    const script = join(repoRoot(), 'scripts', 'ci', 'deploy.sh');
    const ciEnv = (extra: NodeJS.ProcessEnv) => ({
      ...process.env,
      PATH: `${join(repoRoot(), 'bin')}:${process.env['PATH'] ?? ''}`,
      DROVER_SERVER: server.url,
      ...env(),
      ...extra,
    });

    test('the action runs exactly this script', async () => {
      const action = await readFile(join(repoRoot(), '.github', 'actions', 'deploy', 'action.yml'), 'utf8');
      assert.match(action, /using: composite/);
      assert.deepEqual(
        [...action.matchAll(/^\s+run: (.*)$/gm)].map((m) => m[1]),
        [`'"$GITHUB_ACTION_PATH/../../../scripts/ci/deploy.sh" "$DROVER_FLAKE"'`],
      );
    });

    test('deploy mode: drover deploy of the flake, exit 0', async () => {
      const a = await agent();
      const ref = await flake({ [a.name]: nixos('nixos') });
      const r = await run('bash', [script, ref], { env: ciEnv({ DROVER_ON: a.name, DROVER_TIMEOUT: '5m' }), timeoutMs: 300_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /^drover-ci: drover .* with nix \(Nix\) /m);
      assert.match(r.stdout, /Deployed successfully/);
      assert.ok(await activePath(a.profile));
      assert.doesNotMatch(r.stdout + r.stderr, new RegExp(tokens.push), 'tokens are never printed');
    });

    test('activate mode: build a writeDeploySpec file, drover push, drover activate', async () => {
      const a = await agent();
      const writeText = `name: text: derivation { inherit name text; system = "${system}"; builder = "/bin/sh"; args = [ "-c" "printf %s \\"$text\\" > $out" ]; }`;
      const lib = `(import ./lib.nix { lib = null; })`;
      const ref = await flake({ [a.name]: nixos('nixos') }, `deployJson = ${lib}.writeDeploySpec { writeText = ${writeText}; } self.deploy;`);
      await copyFile(join(repoRoot(), 'nix', 'lib.nix'), join(ref.slice('path:'.length), 'lib.nix'));
      const r = await run('bash', [script], {
        env: ciEnv({ DROVER_MODE: 'activate', DROVER_SPEC: `${ref}#deployJson`, DROVER_CACHE: cache }),
        timeoutMs: 300_000,
      });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Deployed successfully/);
      assert.equal(await activePath(a.profile), await paths(ref, `"${a.name}".config.system.build.toplevel`));
    });

    test('a missing secret: exit 1 naming it, nothing run', async () => {
      const r = await run('bash', [script, 'path:/nonexistent'], { env: ciEnv({ DROVER_ACTIVATE_TOKEN: '' }), timeoutMs: 60_000 });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /drover-ci: DROVER_ACTIVATE_TOKEN is not set \(pass it from a CI secret\)/);
    });
  });
});
