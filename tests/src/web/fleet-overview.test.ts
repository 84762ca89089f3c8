/**
 * Labels, the fleet overview and decommissioning end to end on SQLite: real
 * `drover agent NAME --label …` processes declare their labels in their
 * hello, `drover agents --selector/--status` and `drover agents label`
 * filter and change them, and in headless Chromium the agents page shows
 * the fleet overview (its counts link to the filtered list), filters by a
 * label selector, and an agent is removed from its page with a confirmation
 * — it leaves the list and the counts, its agent process is cut off, and
 * its deployment stays readable. No deployment runs (no Nix).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Agent, Fleet } from '@drover/protocol';
import {
  api,
  createToken,
  drover,
  makeBackend,
  startAgent,
  startServer,
  waitFor,
  type Backend,
  type DroverProcess,
  type ServerHandle,
} from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';

const ADMIN = 'fleet-admin';

describe('fleet overview, labels and decommission (SQLite, Chromium)', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let adminToken: string;
  let activateToken: string;
  let browser: Browser;
  let user: UiUser;
  const procs: DroverProcess[] = [];
  const password = randomBytes(12).toString('hex');
  const suffix = randomBytes(2).toString('hex');
  const web1 = `web-eu-${suffix}`;
  const web2 = `web-us-${suffix}`;
  const db1 = `db-eu-${suffix}`;
  const spare = `spare-${suffix}`;

  const fleet = async () => (await api<Fleet>(server.url, activateToken, 'GET', '/fleet')).json;
  /** `drover ARGS` against the server; its stdout (`said`: what it told on stderr, for the commands that only report). */
  const run = async (args: string[], token: string) => {
    const r = await drover([...args, '--server', server.url, '--token', token]);
    assert.equal(r.code, 0, `drover ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r;
  };
  const cli = async (args: string[]) => (await run(args, activateToken)).stdout;
  const said = async (args: string[]) => (await run(args, adminToken)).stderr;

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'fleet-overview-'));
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    adminToken = await createToken(backend, 'admin');
    activateToken = await createToken(backend, 'activate');
    await createUser(backend, ADMIN, 'admin', password);
    const labels: Record<string, string[]> = { [web1]: ['role=web', 'region=eu'], [web2]: ['role=web', 'region=us'], [db1]: ['role=db', 'region=eu'] };
    for (const [name, ls] of Object.entries(labels)) {
      const home = join(dir, 'agents', name);
      await mkdir(join(home, 'profiles'), { recursive: true });
      const token = await createToken(backend, 'agent', ['--agent', name]);
      procs.push(
        await startAgent(name, {
          server: server.url,
          token,
          profile: join(home, 'profiles', 'system'),
          stateDir: join(home, 'state'),
          extraArgs: ls.flatMap((l) => ['--label', l]),
        }),
      );
    }
    // Declared only (a bound token), never connected: offline, and a deployment that stays Pending.
    await createToken(backend, 'agent', ['--agent', spare]);
    const activated = await api(server.url, activateToken, 'POST', '/activate?cacheCheck=false', {
      agents: { [spare]: '/nix/store/00000000000000000000000000000000-fleet-spare' },
    });
    assert.equal(activated.status, 201, JSON.stringify(activated.json));
    browser = await launchBrowser();
    user = await UiUser.open(browser, server.url, 'fleet');
    await user.page.goto('/login');
    await user.signIn(ADMIN, password);
  });
  after(async () => {
    await user.close();
    await browser.close().catch(() => {});
    for (const p of procs) await p.stop('SIGKILL').catch(() => {});
    await server.stop();
    await backend.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  test('real agents declare their labels with --label; the CLI filters by selector and status, and an admin changes labels', async () => {
    const agents = JSON.parse(await cli(['agents', '--json'])) as Agent[];
    const byName = new Map(agents.map((a) => [a.name, a]));
    assert.deepEqual(byName.get(web1)?.labels, { region: 'eu', role: 'web' });
    assert.deepEqual(byName.get(db1)?.agentLabels, { region: 'eu', role: 'db' });
    assert.deepEqual(byName.get(spare)?.labels, {});

    const names = async (args: string[]) => (JSON.parse(await cli(['agents', '--json', ...args])) as Agent[]).map((a) => a.name);
    assert.deepEqual(await names(['--selector', 'role=web,region!=eu']), [web2]);
    assert.deepEqual(await names(['--selector', 'region=eu', '--status', 'online']), [db1, web1]);
    assert.deepEqual(await names(['--status', 'pending']), [spare]);
    assert.deepEqual(await names(['--status', 'behind']), [spare]);
    const table = await cli(['agents', '--selector', 'role=db']);
    assert.match(table, new RegExp(`${db1}.*region=eu,role=db`));

    const changed = await said(['agents', 'label', db1, 'tier=gold', 'region-']);
    assert.match(changed, /role=db,tier=gold/);
    assert.deepEqual(await names(['--selector', 'tier=gold']), [db1]);
    assert.deepEqual(await names(['--selector', 'region=eu']), [web1], 'the admin removed region from db1');
    const bad = await drover(['agents', '--selector', 'role==web', '--server', server.url, '--token', activateToken]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /role==web/);
  });

  test('the agents page: fleet overview counts link to the filtered list; the label selector filters the table', async () => {
    const p = user.page;
    await p.goto('/w/default/agents');
    const tile = (key: string) => p.locator(`[data-fleet="${key}"] .fleet-count`);
    await waitFor('the fleet overview', async () => (await tile('total').textContent()) === '4');
    assert.equal(await tile('online').textContent(), '3');
    assert.equal(await tile('offline').textContent(), '1');
    assert.equal(await tile('pending').textContent(), '1');
    assert.equal(await tile('behind').textContent(), '1');
    assert.deepEqual(await fleet(), { total: 4, online: 3, offline: 1, succeeded: 0, failed: 0, pending: 1, inProgress: 0, behind: 1 });
    await user.shoot('fleet-overview');

    const rows = () => p.locator('[data-testid="agents-table"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-agent')));
    await p.locator('[data-fleet="offline"]').click();
    await p.waitForURL((u) => u.searchParams.get('status') === 'offline');
    await waitFor('only the offline agent', async () => JSON.stringify(await rows()) === JSON.stringify([spare]));
    assert.equal(await p.locator('[data-fleet="offline"]').getAttribute('aria-current'), 'page');

    await p.locator('[data-fleet="total"]').click();
    await p.getByLabel('Labels').fill('role=web,region!=eu');
    await p.waitForURL((u) => u.searchParams.get('selector') === 'role=web,region!=eu');
    await waitFor('the selector to filter', async () => JSON.stringify(await rows()) === JSON.stringify([web2]));
    assert.equal(await p.locator(`tr[data-agent="${web2}"] [data-label="role"]`).textContent(), 'role=web');
    await user.shoot('agents-selector');

    await p.getByLabel('Labels').fill('role=');
    await p.getByText(/selector "role="/).waitFor();
  });

  test('an agent page sets labels and removes the agent after a confirmation: out of the list and the counts, history readable', async () => {
    const p = user.page;
    await p.goto(`/w/default/agents/${web2}`);
    await p.getByLabel('Change labels').fill('tier=silver region-');
    await p.getByRole('button', { name: 'Apply' }).click();
    await p.locator('.agent-labels [data-label="tier"].admin').waitFor();
    const agent = (await api<Agent>(server.url, activateToken, 'GET', `/agents/${web2}`)).json;
    assert.deepEqual(agent.labels, { role: 'web', tier: 'silver' });
    await user.shoot('agent-labels');

    await p.getByRole('button', { name: 'Remove agent' }).click();
    await p.getByRole('button', { name: `Really remove ${web2}?` }).click();
    await p.waitForURL((u) => u.pathname === '/w/default/agents');
    await waitFor(
      'the removed agent to leave the list',
      async () => (await p.locator(`tr[data-agent="${web2}"]`).count()) === 0 && (await p.locator('[data-testid="agents-table"] tbody tr').count()) === 3,
    );
    assert.equal((await fleet()).total, 3);
    const gone = await api(server.url, activateToken, 'GET', `/agents/${web2}`);
    assert.equal(gone.status, 404);
    const web2Proc = procs[1];
    assert.ok(web2Proc);
    await web2Proc.waitForOutput(/decommissioned|DROVER_ERR_TOKEN_REVOKED/);
    const refused = await api(server.url, activateToken, 'POST', '/activate?cacheCheck=false', {
      agents: { [web2]: '/nix/store/00000000000000000000000000000000-fleet-spare' },
    });
    assert.equal((refused.json as { code: string }).code, 'DROVER_ERR_UNKNOWN_AGENT');

    // The declared agent, removed with the CLI: its Pending deployment's page still opens.
    const spareDeployment = (await api<{ deployments: { id: string }[] }>(server.url, activateToken, 'GET', `/deployments?agent=${spare}`)).json.deployments[0];
    assert.ok(spareDeployment);
    assert.match(await said(['agents', 'remove', spare]), /decommissioned/);
    assert.deepEqual(await fleet(), { total: 2, online: 2, offline: 0, succeeded: 0, failed: 0, pending: 0, inProgress: 0, behind: 0 });
    await p.goto(`/w/default/deployments/${spareDeployment.id}`);
    await p.getByRole('heading', { level: 1 }).filter({ hasText: spare }).waitFor();
    await user.shoot('removed-agent-deployment');
    assert.deepEqual(
      user.pageErrors.filter((e) => !e.includes('status of 400')),
      [],
    );
  });
});
