/**
 * Deadlines, health checks and the free-space check end to end (issue 14
 * §2, and §3's network cut between agent and server after activation): real
 * `drover server` (SQLite), real agents, real Nix substitution from a signed
 * cache, real profiles. Fixtures of their own are built by name from
 * tests/fixtures/fixtures.nix (nixos_hanging, nixos_checked, nixos_gated).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startTcpProxy } from '@drover/test-support';
import { isInStore, readActivations } from '../support/nix.js';
import { waitFor } from '../support/drover.js';
import { activePath, deploymentIds, World, type TestAgent } from './harness.js';

/** Builds nixos_hanging or nixos_checked (with its drover-checks.json), in the world's cache only. */
const extraFixture = (world: World, attr: 'nixos_hanging' | 'nixos_checked' | 'nixos_gated', checksJson?: string, gate?: string) =>
  world.extraFixture(attr, { ...(checksJson !== undefined ? { checksJson } : {}), ...(gate !== undefined ? { gate } : {}) });

/** The texts of a deployment's journal on the agent's machine, with their times (what the runner wrote, sent or not). */
function journal(agent: TestAgent, id: string): { time: number; text: string; finished: boolean }[] {
  let raw: string;
  try {
    raw = readFileSync(join(agent.stateDir, 'deployments', id, 'events.ndjson'), 'utf8');
  } catch {
    return [];
  }
  const out: { time: number; text: string; finished: boolean }[] = [];
  for (const line of raw.split('\n').filter((l) => l !== '')) {
    const entry = JSON.parse(line) as { type: string; time?: string; lines?: { time: string; text: string }[] };
    if (entry.type === 'deployment.finished') out.push({ time: Date.parse(entry.time ?? ''), text: '', finished: true });
    for (const l of entry.lines ?? []) out.push({ time: Date.parse(l.time), text: l.text, finished: false });
  }
  return out;
}

describe('deadlines, health checks and free space', { timeout: 600_000 }, () => {
  const world = new World('sqlite');
  let health: Server;
  let healthBase = '';
  before(async () => {
    await world.setUp();
    health = createServer((req, res) => {
      res.statusCode = req.url === '/ok' ? 200 : 503;
      res.end(req.url === '/ok' ? 'ok' : 'down');
    });
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    healthBase = `http://127.0.0.1:${String((health.address() as AddressInfo).port)}`;
  });
  after(async () => {
    health.closeAllConnections();
    health.close();
    await world.tearDown();
  });

  /** A new agent whose profile already holds the nixos fixture, so a failure has something to roll back to. */
  async function agentOnNixos(opts: Parameters<World['agent']>[0] = {}): Promise<TestAgent> {
    const agent = await world.agent(opts);
    const r = await world.activate([await world.specFile({ [agent.name]: world.fixtures.nixos })]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await activePath(agent.profile), world.fixtures.nixos);
    return agent;
  }

  test("a hanging activation is killed with its children after the deploy's --activation-timeout and rolled back", async () => {
    const hanging = await extraFixture(world, 'nixos_hanging');
    // The agent's own default would wait an hour: the deploy's deadline wins.
    const agent = await agentOnNixos({ extraArgs: ['--activation-timeout', '1h'] });
    const started = Date.now();
    // Bounded: without the deadline it would wait forever (exit 2 after --timeout).
    const r = await world.activate([await world.specFile({ [agent.name]: hanging }), '--activation-timeout', '3s', '--timeout', '90s']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(Date.now() - started < 60_000, 'it did not wait for the activation');
    const id = deploymentIds(r.stdout).get(agent.name)!;
    const d = await world.deployment(id);
    assert.equal(d.status, 'Failed');
    assert.match(
      d.reason ?? '',
      /switch-to-configuration switch was still running after the activation timeout of 3\.0s and was killed with everything it started/,
    );
    assert.ok(d.reason?.endsWith(`rolled back to ${world.fixtures.nixos}`), d.reason ?? '');
    assert.match(r.stdout, /activation hangs on purpose/);
    assert.equal(await activePath(agent.profile), world.fixtures.nixos);
    const child = Number(readFileSync(join(world.fixtures.markerDir, 'hanging.pid'), 'utf8').trim());
    await waitFor(`the hanging activation's child ${String(child)} to be gone`, () => !existsSync(`/proc/${String(child)}`), 10_000);
  });

  /**
   * A deployment of nixos_gated to a new agent reached through a TCP proxy: its activation waits on a gate file,
   * so the test can break the link at a point the confirm step cannot have reached (a sleep in the activation
   * raced it on a loaded machine). `open()` lets the activation finish; `lines()` is the agent's local journal.
   */
  async function gatedDeployment(confirmTimeout: string) {
    const proxy = await startTcpProxy(world.server.port);
    world.onTearDown(() => proxy.close());
    const gate = join(world.fixtures.markerDir, `gate-${randomBytes(4).toString('hex')}`);
    const gated = await extraFixture(world, 'nixos_gated', undefined, gate);
    const agent = await agentOnNixos({ server: proxy.url, extraArgs: ['--confirm-timeout', confirmTimeout] });
    const r = await world.activate([await world.specFile({ [agent.name]: gated }), '--async']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const id = deploymentIds(r.stdout).get(agent.name)!;
    const lines = () => journal(agent, id);
    await waitFor('the activation to wait at its gate', () => lines().some((l) => l.text === 'activation waits for the gate'), 60_000);
    await world.waitForStatus(id, 'InProgress', 60_000);
    return { proxy, agent, id, lines, open: () => writeFileSync(gate, '') };
  }

  /** How long after the confirm step began the runner finished, with the journal in the message should it not say so. */
  async function confirmWait(lines: () => ReturnType<typeof journal>, confirmTimeout: string): Promise<number> {
    const finished = await waitFor('the runner to finish on its own', () => lines().find((l) => l.finished), 60_000);
    const all = lines();
    const confirming = all.find((l) => l.text.startsWith(`checking that the server is reached again within ${confirmTimeout}`));
    assert.ok(confirming, all.map((l) => l.text).join('\n'));
    return finished.time - confirming.time;
  }

  test('network cut between agent and server after activation: the runner rolls back alone within --confirm-timeout; the outcome arrives when the network returns', async () => {
    const { proxy, agent, id, lines, open } = await gatedDeployment('4s');
    // The activation is blocked at its gate: the confirm step cannot have run. The cache is reached directly.
    proxy.cut('reset');
    open();
    const waited = await confirmWait(lines, '4.0s');
    const journalText = () =>
      lines()
        .map((l) => l.text)
        .join('\n');
    assert.ok(waited >= 3500 && waited < 15_000, `rolled back ${String(waited)} ms after activation ended (confirm timeout 4 s):\n${journalText()}`);
    assert.equal(await activePath(agent.profile), world.fixtures.nixos, 'rolled back while the server was unreachable');
    // The server has not heard the outcome.
    assert.equal((await world.deployment(id)).status, 'InProgress', 'the server has not heard yet');
    proxy.restore();
    const d = await world.waitForStatus(id, 'Failed', 120_000);
    assert.match(d.reason ?? '', /the server was not reached within the confirm timeout of 4\.0s after activation/);
    assert.ok(d.reason?.endsWith(`rolled back to ${world.fixtures.nixos}`), d.reason ?? '');
    const log = await world.logOf(id);
    assert.ok(
      log.some((l) => l.text === `rolled back to ${world.fixtures.nixos}`),
      'the whole log arrived too',
    );
  });

  test('the switch restarted the agent and the link went silent (black hole): the runner still rolls back within --confirm-timeout; the restarted agent reports', async () => {
    const { proxy, agent, id, lines, open } = await gatedDeployment('3s');
    // What a NixOS switch does to the agent's unit, and a partition no connection notices: requests hang instead of failing.
    await agent.proc.stop('SIGKILL');
    proxy.cut('blackhole');
    open();
    const waited = await confirmWait(lines, '3.0s');
    assert.ok(waited >= 2500 && waited < 9500, `rolled back ${String(waited)} ms after activation ended (confirm timeout 3 s, requests hanging)`);
    assert.equal(await activePath(agent.profile), world.fixtures.nixos);
    proxy.restore();
    await agent.restart();
    const d = await world.waitForStatus(id, 'Failed', 60_000);
    assert.match(d.reason ?? '', /the server was not reached within the confirm timeout of 3\.0s after activation \(.*: no answer\)/);
  });

  test('drover-checks.json: passing checks are logged and the deployment succeeds; a failing check rolls back', async () => {
    const port = Number(new URL(healthBase).port);
    const passing = await extraFixture(
      world,
      'nixos_checked',
      JSON.stringify({
        checks: [
          { type: 'http', url: `${healthBase}/ok` },
          { type: 'tcp', host: '127.0.0.1', port },
          { type: 'command', argv: ['/bin/sh', '-c', 'echo command check says hi'], name: 'greeting' },
        ],
      }),
    );
    const failing = await extraFixture(
      world,
      'nixos_checked',
      JSON.stringify({ checks: [{ type: 'http', url: `${healthBase}/health`, retries: 1, interval: '200ms', timeout: '2s' }] }),
    );
    const agent = await agentOnNixos();
    const ok = await world.activate([await world.specFile({ [agent.name]: passing })]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /3 health check\(s\) from drover-checks.json will run after activation/);
    assert.match(ok.stdout, new RegExp(`check 1/3 \\(http ${healthBase}/ok\\): passed`));
    assert.match(ok.stdout, /check 2\/3 \(tcp 127\.0\.0\.1:\d+\): passed/);
    assert.match(ok.stdout, /command check says hi[\s\S]*check 3\/3 \(greeting\): passed/);
    assert.equal(await activePath(agent.profile), passing);

    const bad = await world.activate([await world.specFile({ [agent.name]: failing })]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /check 1\/1 \(http .*\/health\): attempt 1\/2 failed: .* answered HTTP 503; retrying in 200ms/);
    assert.match(bad.stdout, /check 1\/1 \(http .*\/health\): FAILED after 2 attempts/);
    const d = await world.deployment(deploymentIds(bad.stdout).get(agent.name)!);
    assert.match(d.reason ?? '', new RegExp(`^health check http ${healthBase}/health failed: .*HTTP 503; rolled back to ${passing}$`));
    assert.equal(await activePath(agent.profile), passing);
  });

  test('a bad drover-checks.json fails the deployment before activation, the profile untouched', async () => {
    const broken = await extraFixture(world, 'nixos_checked', JSON.stringify({ checks: [{ type: 'ping', host: 'x' }] }));
    const agent = await agentOnNixos();
    const r = await world.activate([await world.specFile({ [agent.name]: broken })]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const d = await world.deployment(deploymentIds(r.stdout).get(agent.name)!);
    assert.match(d.reason ?? '', /^drover-checks.json is invalid: checks\[0\]: unknown "type" "ping" .*; the profile was not changed$/);
    assert.equal(await activePath(agent.profile), world.fixtures.nixos);
    assert.ok(!(await readActivations(world.fixtures.markerDir)).some((l) => l.includes(broken)), 'never activated');
  });

  test('free space: a closure that does not fit beside --store-reserve is refused before anything is fetched', async () => {
    const agent = await world.agent({ extraArgs: ['--store-reserve', '1000000T'] });
    const target = world.fixtures.nixos_b;
    assert.ok(!isInStore(target), 'the fixture must be fetched');
    const r = await world.activate([await world.specFile({ [agent.name]: target })]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const d = await world.deployment(deploymentIds(r.stdout).get(agent.name)!);
    assert.match(
      d.reason ?? '',
      /^not enough space on the filesystem of \/nix\/store: \d+ paths? to fetch \([\d.]+ MiB download, [\d.]+ MiB unpacked\) and the agent keeps [\d.]+ MiB free \(--store-reserve\), but only [\d.]+ MiB is free; free some space \(nix-collect-garbage\) or lower --store-reserve; nothing was fetched and the profile was not changed$/,
    );
    assert.equal(await activePath(agent.profile), null, 'the profile was not created');
    assert.ok(!isInStore(target), 'nothing was fetched');
    assert.match(r.stdout, /\$ nix-store --realise \S+ --dry-run/);
    assert.doesNotMatch(r.stdout, /--add-root/, 'the substitution itself never ran');
  });
});
