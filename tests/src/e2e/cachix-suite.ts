/**
 * The Cachix Deploy protocol end to end, defined once and run on SQLite and
 * PostgreSQL: the real `drover server`, and a client written from the
 * protocol document (tests/src/cachix-client) that behaves like
 * `cachix deploy agent` — no data frames on /ws, a detached deployment
 * subprocess with its two sockets, the 1 s reconnect — and like
 * `cachix deploy activate`, deploying real fixture closures with real Nix
 * into real profiles. The agents substitute from the machine's own
 * configuration (the cache handed out is null), which here is NIX_CONFIG
 * naming the tests' signed cache.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { Agent } from '@drover/protocol';
import { readActivations } from '../support/nix.js';
import { createToken, drover, DroverProcess, randomName, waitFor, type BackendKind } from '../support/drover.js';
import { activePath, World } from './harness.js';

const CLIENT = join(import.meta.dirname, '..', 'cachix-client');

export function defineCachixSuite(kind: BackendKind): void {
  describe(`Cachix Deploy protocol on ${kind}`, { timeout: 600_000 }, () => {
    const world = new World(kind);
    let clientEnv: NodeJS.ProcessEnv;
    before(async () => {
      await world.setUp();
      clientEnv = {
        ...process.env,
        // What the tests' reverse proxy would do: cachix opens websockets on the scheme's default port.
        CACHIX_CLIENT_WS_PORT: String(world.server.port),
        // The machine's own substituters (the cache handed out is null).
        NIX_CONFIG: `extra-substituters = ${world.cache.url}\nextra-trusted-public-keys = ${world.cache.publicKey}\nnarinfo-cache-negative-ttl = 0`,
      };
    });
    after(() => world.tearDown());

    /** `cachix deploy agent NAME PROFILE --host URL`, with a token bound to NAME. */
    async function cachixAgent(name = randomName('cachix'), token?: string): Promise<{ name: string; profile: string; proc: DroverProcess; token: string }> {
      const home = join(world.dir, 'cachix', name);
      await mkdir(home, { recursive: true });
      const agentToken = token ?? (await createToken(world.backend, 'agent', ['--agent', name]));
      const profile = join(home, 'profiles', 'system');
      await mkdir(join(home, 'profiles'), { recursive: true });
      const child = spawn(process.execPath, [join(CLIENT, 'agent.js'), name, profile, '--host', world.server.url, '--lock-dir', home], {
        env: { ...clientEnv, CACHIX_AGENT_TOKEN: agentToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const proc = world.track(new DroverProcess(`cachix-agent:${name}`, child));
      return { name, profile, proc, token: agentToken };
    }

    /** `cachix deploy activate SPEC --host URL`, bounded in time. */
    async function cachixActivate(spec: string, extra: readonly string[] = []): Promise<{ code: number | null; out: string }> {
      const child = spawn(process.execPath, [join(CLIENT, 'activate.js'), spec, ...extra, '--host', world.server.url], {
        env: { ...clientEnv, CACHIX_ACTIVATE_TOKEN: world.activateToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const proc = new DroverProcess('cachix-activate', child);
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      const code = await proc.exited;
      clearTimeout(timer);
      return { code, out: proc.output };
    }

    function idOf(out: string, name: string): string {
      const m = new RegExp(`^\\[${name}\\] \\S+/deployments/([0-9a-f-]{36})$`, 'm').exec(out);
      assert.ok(m?.[1], `activate printed [${name}] URL:\n${out}`);
      return m[1];
    }

    async function listed(name: string): Promise<Agent | undefined> {
      const r = await drover(['agents', '--json', '--server', world.server.url], { DROVER_ACTIVATE_TOKEN: world.activateToken });
      return (JSON.parse(r.stdout) as Agent[]).find((a) => a.name === name);
    }

    test('a Cachix agent registers through /ws and shows like a Drover agent: version and system from its headers, online', async () => {
      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as [0-9a-f-]{36} \(cache: none\)/);
      const row = await waitFor('the agent listed online', async () => ((await listed(agent.name))?.online ? listed(agent.name) : null), 15_000);
      assert.equal(row.version, 'cachix 1.11.1');
      assert.equal(row.system, `${process.arch === 'x64' ? 'x86_64' : 'aarch64'}-linux`);
    });

    test('deploy: activate streams the log, the subprocess reports started/size/finished, exit 0, profile switched, Succeeded', async () => {
      const f = world.fixtures;
      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as/);
      const spec = await world.specFile({ [agent.name]: f.nixos }, f.rollback_ok);
      const r = await cachixActivate(spec);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /^Deploying agents:$/m);
      const id = idOf(r.out, agent.name);
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] \\$ nix-store -r ${f.nixos}`, 'm'));
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] Successfully activated the deployment\\.$`, 'm'));
      assert.match(r.out, new RegExp(`^Deployment summary:\\n\\[${agent.name}\\] Deployed successfully$`, 'm'));
      assert.equal(await activePath(agent.profile), f.nixos);
      assert.ok((await readActivations(f.markerDir)).includes(`nixos switch ${f.nixos}`));
      const d = await world.deployment(id);
      assert.equal(d.status, 'Succeeded');
      assert.equal(d.index, 1);
      assert.ok(d.closureSize && d.closureSize > 0, 'closure size from the second DeploymentStarted');
      assert.ok(d.startedAt && d.finishedAt);
      const lines = await world.logOf(id);
      assert.ok(lines.some((l) => l.text === 'Successfully activated the deployment.'));
      assert.deepEqual(
        lines.map((l) => l.seq),
        lines.map((_, i) => i),
      );
      assert.equal((await listed(agent.name))?.currentStorePath, f.nixos);
      // The Cachix status endpoint: exactly 200 with JSON, in Cachix's terms.
      const res = await fetch(`${world.server.url}/api/v1/deploy/deployment/${id}`, { headers: { authorization: `Bearer ${world.activateToken}` } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await res.json()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['closureSize', 'createdOn', 'finishedOn', 'id', 'index', 'startedOn', 'status', 'storePath']);
      assert.equal(body['status'], 'Succeeded');
      assert.equal(agent.proc.running, true, 'the agent keeps running');
      assert.doesNotMatch(agent.proc.output, /LEAK/);
    });

    test('failure: a failing rollbackScript rolls back to the previous path; activate says Failed to deploy, exit 1, Failed', async () => {
      const f = world.fixtures;
      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as/);
      const first = await cachixActivate(await world.specFile({ [agent.name]: f.nixos }));
      assert.equal(first.code, 0, first.out);
      const r = await cachixActivate(await world.specFile({ [agent.name]: f.nixos_b }, f.rollback_fail));
      assert.equal(r.code, 1, r.out);
      const id = idOf(r.out, agent.name);
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] Failed to activate the deployment\\.$`, 'm'));
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] Failed to deploy$`, 'm'));
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] health check failed on purpose$`, 'm'));
      assert.ok((await readActivations(f.markerDir)).some((l) => l.startsWith(`rollback-script fail ${f.rollback_fail}`)));
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] Rolling back to ${f.nixos}$`, 'm'));
      assert.equal(await activePath(agent.profile), f.nixos, 'rolled back');
      const d = await world.deployment(id);
      assert.equal(d.status, 'Failed');
      assert.match(d.reason ?? '', /Cachix agent reported/);
      assert.equal((await listed(agent.name))?.currentStorePath, f.nixos);
    });

    test('offline: only the latest deployment runs when the agent comes back; the older is Superseded (Cancelled to Cachix)', async () => {
      const f = world.fixtures;
      const name = randomName('cachix');
      const token = await createToken(world.backend, 'agent', ['--agent', name]);
      const first = await cachixAgent(name, token);
      await first.proc.waitForOutput(/registered as/);
      await first.proc.stop('SIGKILL');
      await waitFor('agent offline', async () => (await listed(name))?.online === false, 15_000);
      const a = await cachixActivate(await world.specFile({ [name]: f.plain }), ['--async']);
      const b = await cachixActivate(await world.specFile({ [name]: f.home_manager }), ['--async']);
      assert.equal(a.code, 0, a.out);
      assert.equal(b.code, 0, b.out);
      const idA = idOf(a.out, name);
      const idB = idOf(b.out, name);
      const again = await cachixAgent(name, token);
      await world.waitForStatus(idB, 'Succeeded', 90_000);
      assert.equal((await world.deployment(idA)).status, 'Superseded');
      const st = (await (
        await fetch(`${world.server.url}/api/v1/deploy/deployment/${idA}`, { headers: { authorization: `Bearer ${world.activateToken}` } })
      ).json()) as {
        status: string;
      };
      assert.equal(st.status, 'Cancelled');
      assert.equal(await activePath(again.profile), f.home_manager);
      assert.doesNotMatch(again.proc.output, new RegExp(idA), 'the superseded deployment was never sent');
    });

    test('log replay: a watcher opened after the end gets every stored line, then the end line, then the close', async () => {
      const f = world.fixtures;
      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as/);
      const r = await cachixActivate(await world.specFile({ [agent.name]: f.plain }), ['--async']);
      const id = idOf(r.out, agent.name);
      await world.waitForStatus(id, 'Succeeded', 90_000);
      const stored = (await world.logOf(id)).map((l) => l.text);
      const got: string[] = [];
      const code = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${world.server.port}/api/v1/deploy/log/${id}?view=true`, {
          headers: { authorization: `Bearer ${world.activateToken}` },
        });
        const timer = setTimeout(() => reject(new Error(`no close; got ${got.length} lines`)), 20_000);
        ws.on('message', (data: Buffer) => got.push((JSON.parse(data.toString('utf8')) as { line: string }).line));
        ws.on('close', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
        ws.on('error', reject);
      });
      assert.deepEqual(got, stored);
      assert.equal(got.at(-1), 'Successfully activated the deployment.');
      assert.equal(code, 1000);
    });

    test('a Drover agent watched by Cachix activate: the server sends the end line its log lacks', async () => {
      const f = world.fixtures;
      const agent = await world.agent();
      const r = await cachixActivate(await world.specFile({ [agent.name]: f.plain }));
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] Successfully activated the deployment \\(Drover: Succeeded\\)$`, 'm'));
      assert.match(r.out, new RegExp(`^\\[${agent.name}\\] Deployed successfully$`, 'm'));
    });

    test('drover activate deploys a Cachix agent like any other; a dry run is not sent to it and fails with the reason', async () => {
      const f = world.fixtures;
      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as/);
      const r = await world.activate([await world.specFile({ [agent.name]: f.darwin })]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Successfully activated the deployment/);
      assert.equal(await activePath(agent.profile), f.darwin);
      const dry = await world.activate([await world.specFile({ [agent.name]: f.nixos }), '--dry']);
      assert.equal(dry.code, 1, dry.stdout + dry.stderr);
      const id = [...dry.stdout.matchAll(/\/deployments\/([0-9a-f-]{36})/g)][0]?.[1];
      assert.ok(id, dry.stdout);
      const d = await world.deployment(id);
      assert.equal(d.status, 'Failed');
      assert.match(d.reason ?? '', /cannot do a dry run/);
      assert.equal(await activePath(agent.profile), f.darwin, 'nothing switched');
      assert.doesNotMatch(agent.proc.output, new RegExp(id), 'the dry run never reached the agent');
    });

    test('exit codes: a spec that does not parse, an unknown agent (HTTP 400); the v1 activate shape', async () => {
      const bad = join(world.dir, `bad-${randomBytes(3).toString('hex')}.json`);
      await writeFile(bad, '{"agents": ');
      const p = await cachixActivate(bad);
      assert.equal(p.code, 1);
      assert.match(p.out, /^Error parsing the deployment spec: /m);
      const u = await cachixActivate(await world.specFile({ 'no-such-agent': world.fixtures.plain }));
      assert.equal(u.code, 1);
      assert.match(u.out, /HTTP 400: .*DROVER_ERR_UNKNOWN_AGENT/);
      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as/);
      const v1 = await fetch(`${world.server.url}/api/v1/deploy/activate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${world.activateToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agents: { [agent.name]: world.fixtures.plain } }),
      });
      assert.equal(v1.status, 200);
      const body = (await v1.json()) as { agents: Record<string, unknown> };
      assert.match(String(body.agents[agent.name]), /\/deployments\/[0-9a-f-]{36}$/);
    });

    test('reconnect: a bad token is retried every 1 s; a server restart is survived (never a 1000 close) and deployments still work', async () => {
      const bad = await cachixAgent(randomName('cachix'), 'drover_agent_0000000000000000_' + '0'.repeat(64));
      await sleep(3500);
      const attempts = bad.proc.output.match(/HTTP 401; reconnecting in 1s/g)?.length ?? 0;
      assert.ok(attempts >= 2 && attempts <= 5, `about one attempt a second, got ${attempts}:\n${bad.proc.output}`);
      await bad.proc.stop('SIGKILL');

      const agent = await cachixAgent();
      await agent.proc.waitForOutput(/registered as/);
      await world.server.restart();
      await waitFor('a second registration', () => (agent.proc.output.match(/registered as/g)?.length ?? 0) >= 2, 20_000);
      assert.equal(agent.proc.running, true);
      assert.match(agent.proc.output, /connection (closed \(1001|error).*reconnecting in 1s/);
      const r = await cachixActivate(await world.specFile({ [agent.name]: world.fixtures.plain }));
      assert.equal(r.code, 0, r.out);
    });

    test('lock busy: a deployment whose subprocess found the lock held (agent restarted mid-deployment) is sent again and runs', async () => {
      const f = world.fixtures;
      const name = randomName('cachix');
      const token = await createToken(world.backend, 'agent', ['--agent', name]);
      const first = await cachixAgent(name, token);
      await first.proc.waitForOutput(/registered as/);
      const a = await cachixActivate(await world.specFile({ [name]: f.nixos_slow }), ['--async']);
      const idA = idOf(a.out, name);
      await world.waitForStatus(idA, 'InProgress', 60_000);
      // The agent dies (a switch restarting its unit); its detached subprocess goes on.
      await first.proc.stop('SIGKILL');
      const again = await cachixAgent(name, token);
      await again.proc.waitForOutput(/registered as/);
      const b = await cachixActivate(await world.specFile({ [name]: f.nixos }), ['--async']);
      const idB = idOf(b.out, name);
      await again.proc.waitForOutput(new RegExp(`deployment process ${idB} exited`), 30_000);
      assert.equal((await world.deployment(idB)).status, 'Pending', 'the subprocess exited silently: lock busy');
      await world.waitForStatus(idA, 'Succeeded', 60_000);
      await world.waitForStatus(idB, 'Succeeded', 60_000);
      assert.equal(await activePath(again.profile), f.nixos);
    });

    test('a deployment that never started is sent again once it stayed Pending with nothing InProgress (the lock held by a process the server never heard of)', async () => {
      const f = world.fixtures;
      const name = randomName('cachix');
      const agent = await cachixAgent(name);
      await agent.proc.waitForOutput(/registered as/);
      // A leftover deployment process of this machine holds the agent's lock for 6 s and reports nothing.
      const holder = spawn('sleep', ['6'], { stdio: 'ignore' });
      await writeFile(join(world.dir, 'cachix', name, `cachix-deployment-${name}.lock`), String(holder.pid));
      const r = await cachixActivate(await world.specFile({ [name]: f.plain }), ['--async']);
      const id = idOf(r.out, name);
      await agent.proc.waitForOutput(new RegExp(`deployment process ${id} exited`), 30_000);
      assert.equal((await world.deployment(id)).status, 'Pending', 'its subprocess found the lock held and said nothing');
      await new Promise((resolve) => holder.on('exit', resolve));
      await world.waitForStatus(id, 'Succeeded', 40_000);
      assert.equal(agent.proc.output.match(new RegExp(`deploying \\S+ \\(deployment ${id}`, 'g'))?.length, 2, 'sent twice');
      assert.equal(await activePath(agent.profile), f.plain);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
