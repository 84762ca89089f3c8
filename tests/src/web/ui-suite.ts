/**
 * The web UI end to end, defined once and run on SQLite and on PostgreSQL:
 * Debian's Chromium (headless, playwright-core) against a real `drover
 * server`, real agents and real `drover activate` with real Nix. Each test
 * goes through the UI as a user would and checks the outcome on the server
 * side too; screenshots of every main page are saved at desktop and phone
 * width. Large data (10,000 agents, a 200,000-line log) is written straight
 * into the server's database through its own repository functions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Deployment } from '@drover/protocol';
import { api, onHost, randomName, spawnAgentVia, spawnDrover, waitFor, type BackendKind } from '../support/drover.js';
import { activePath, deploymentIds, World, type TestAgent } from '../e2e/harness.js';
import { createUser, launchBrowser, UiUser } from './browser.js';
import { bigLogText, storeBigLog } from './big-log.js';
import { declareFleet } from './fleet.js';

const ADMIN = 'ada';
const VIEWER = 'vic';

export function defineUiSuite(kind: BackendKind): void {
  describe(`web UI on ${kind}`, { timeout: 900_000 }, () => {
    const world = new World(kind);
    const adminPassword = randomBytes(12).toString('hex');
    let browser: Browser;
    let admin: UiUser;
    // What before() opened, in order, for after() to close: before() may stop half-way.
    const opened: (() => Promise<void>)[] = [];
    let publicUrl: string;
    const ws = `ui-${randomBytes(3).toString('hex')}`;
    const agentName = randomName('web');
    let agentToken = '';
    let activateToken = '';
    let agent: TestAgent;
    let succeededId = '';

    before(async () => {
      await world.setUp();
      await createUser(world.backend, ADMIN, 'admin', adminPassword);
      browser = await launchBrowser();
      opened.push(() => browser.close().catch(() => {}));
      admin = await UiUser.open(browser, world.server.url, `${kind}-admin`);
      opened.push(() => admin.close());
      publicUrl = (await api<{ publicUrl: string }>(world.server.url, null, 'GET', '/info')).json.publicUrl;
    });
    after(async () => {
      for (const close of opened.reverse()) await close();
      await world.tearDown();
    });

    const page = () => admin.page;
    const statusOf = async () => page().locator('h1 [data-status]').getAttribute('data-status');
    const waitForStatus = (status: Deployment['status'], timeout = 60_000) => page().locator(`h1 [data-status="${status}"]`).waitFor({ timeout });
    const wsApi = <T>(path: string) => admin.fetchJson('GET', `/api/v1/workspaces/${ws}${path}`).then((r) => r.json as T);

    /** Creates a token on the Tokens page; returns the secret and the command line the page offers. */
    async function createTokenInUi(kind: 'agent' | 'activate', opts: { agent?: string; description: string }): Promise<{ secret: string; command: string }> {
      const p = page();
      await p.goto(`/w/${ws}/tokens`);
      await p.getByLabel('Kind').selectOption(kind);
      if (opts.agent) await p.getByLabel('Agent name').fill(opts.agent);
      await p.getByLabel('Description').fill(opts.description);
      await p.getByRole('button', { name: 'Create token' }).click();
      const secret = (await p.getByTestId('new-token-secret').textContent())!.trim();
      const command = (await p.getByTestId('new-token-command').textContent())!.trim();
      return { secret, command };
    }

    test('sign in: a deep link asks for a password first, a wrong one is refused with its message, the right one opens the page', async () => {
      const p = page();
      await p.goto('/w/default/agents');
      await p.waitForURL((u) => u.pathname === '/login');
      assert.equal(new URL(p.url()).searchParams.get('next'), '/w/default/agents');
      await admin.shoot('login');
      await p.getByLabel('User name').fill(ADMIN);
      await p.getByLabel('Password').fill('not-the-password');
      await p.getByRole('button', { name: 'Sign in' }).click();
      const alert = p.getByRole('alert');
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /wrong user name or password/i);
      assert.equal(new URL(p.url()).pathname, '/login');

      await admin.signIn(ADMIN, adminPassword);
      await p.waitForURL((u) => u.pathname === '/w/default/agents');
      await p.getByRole('heading', { name: 'Agents', exact: true }).waitFor();
      assert.equal(await p.locator('.topbar .user').textContent(), ADMIN);
      const cookies = await admin.context.cookies();
      const session = cookies.find((c) => c.name === 'drover_session');
      assert.ok(session?.httpOnly, 'the session cookie is httpOnly');
      assert.equal(session.sameSite, 'Strict');
    });

    test('create a workspace: it opens empty and says how to start an agent', async () => {
      const p = page();
      await p.goto('/');
      await p.getByRole('link', { name: /default/ }).waitFor();
      await admin.shoot('workspaces');
      await p.getByLabel('Name').fill(ws);
      await p.getByRole('button', { name: 'Create workspace' }).click();
      await p.waitForURL((u) => u.pathname === `/w/${ws}/agents`);
      await p.getByRole('heading', { name: 'No agents yet' }).waitFor();
      assert.match((await p.locator('.empty pre').textContent()) ?? '', new RegExp(`drover agent NAME --server ${publicUrl}`));
      const listed = await admin.fetchJson('GET', '/api/v1/workspaces');
      assert.ok(
        (listed.json as { workspaces: { name: string }[] }).workspaces.some((w) => w.name === ws),
        JSON.stringify(listed.json),
      );
      await admin.shoot('agents-empty');
    });

    test('an agent token made in the UI starts `drover agent`, and the agent turns online without a reload', async () => {
      const p = page();
      await p.getByRole('link', { name: 'Create an agent token' }).click();
      await p.waitForURL((u) => u.pathname === `/w/${ws}/tokens`);
      const made = await createTokenInUi('agent', { agent: agentName, description: 'web ui agent' });
      agentToken = made.secret;
      assert.match(agentToken, /^drover_agent_[0-9a-f]{16}_[0-9a-f]{64}$/);
      assert.equal(made.command, `DROVER_AGENT_TOKEN=${agentToken} drover agent ${agentName} --server ${publicUrl}`);
      await admin.shoot('token-created');
      await p.getByRole('button', { name: 'Done, I copied it' }).click();
      assert.equal(await p.getByTestId('new-token-secret').count(), 0, 'the secret is gone once dismissed');

      await p.getByRole('link', { name: 'Agents', exact: true }).click();
      const row = p.locator(`tr[data-agent="${agentName}"]`);
      await row.locator('[data-presence="offline"]').waitFor(); // a bound token declares the agent
      await p.locator('[data-live="live"]').waitFor();
      await admin.markDocument();
      agent = await world.agent({ name: agentName, token: agentToken });
      await row.locator('[data-presence="online"]').waitFor({ timeout: 20_000 });
      assert.ok(await admin.stillSameDocument(), 'the page was not reloaded');
      assert.match((await row.textContent()) ?? '', /never deployed/);
      await admin.shoot('agents');
    });

    test('the Tokens page shows which agent tokens are unbound (issue 12 §17)', async () => {
      const p = page();
      await p.goto(`/w/${ws}/tokens`);
      await p.getByLabel('Kind').selectOption('agent');
      await p.getByLabel('Unbound').check();
      await p.getByLabel('Description').fill('enrolment');
      await p.getByRole('button', { name: 'Create token' }).click();
      const secret = (await p.getByTestId('new-token-secret').textContent())?.trim() ?? '';
      await p.getByRole('button', { name: 'Done, I copied it' }).click();
      const id = secret.split('_')[2] ?? '';
      await p.locator(`tr[data-token="${id}"] [data-binding="claim"]`).waitFor();
      await p.locator(`tr[data-token="${agentToken.split('_')[2] ?? ''}"] [data-binding="bound"]`).waitFor();
      await admin.shoot('tokens-unbound');
    });

    test('an agent that cannot deploy says why, and two agents with one name are flagged as a conflict', async () => {
      const p = page();
      const name = randomName('nonix');
      const { secret } = await createTokenInUi('agent', { agent: name, description: 'no nix here' });
      await p.getByRole('button', { name: 'Done, I copied it' }).click();
      const dirs = join(world.dir, 'ui-agents', name);
      await mkdir(join(dirs, 'empty-bin'), { recursive: true });
      const args = (host: string) => [name, '--server', world.server.url, '--state-dir', join(dirs, host, 'state'), '--profile', join(dirs, host, 'system')];
      // No Nix on PATH: it connects, says why it cannot deploy, and the UI shows that instead of "online".
      const first = world.track(
        spawnAgentVia(`agent:${name}@host-a`, onHost('host-a'), args('host-a'), { PATH: join(dirs, 'empty-bin'), DROVER_AGENT_TOKEN: secret }),
      );
      await first.waitForOutput(/registered with the server/);
      await p.goto(`/w/${ws}/agents`);
      const row = p.locator(`tr[data-agent="${name}"]`);
      await row.locator('[data-presence="cannot-deploy"]').waitFor({ timeout: 20_000 });
      assert.match((await row.getByTestId('agent-notes').textContent()) ?? '', /cannot deploy: Nix is not on PATH/);
      await admin.shoot('agent-cannot-deploy');
      // The same name from another host: it wins, the first waits 10 minutes, the agent page flags the conflict.
      const second = world.track(
        spawnAgentVia(`agent:${name}@host-b`, onHost('host-b'), args('host-b'), { PATH: process.env['PATH'], DROVER_AGENT_TOKEN: secret }),
      );
      await first.waitForOutput(/DROVER_ERR_AGENT_REPLACED.*from host host-b/);
      await second.waitForOutput(/registered with the server/);
      await p.goto(`/w/${ws}/agents/${name}`);
      const notes = p.getByTestId('agent-notes');
      await notes.waitFor();
      assert.match((await notes.textContent()) ?? '', /name conflict: .*from host host-b replaced the one from host host-a/);
      await p.locator('h1 [data-presence="online"]').waitFor({ timeout: 20_000 }); // host-b has Nix: it can deploy
      await admin.shoot('agent-name-conflict');
      await first.stop();
      await second.stop();
    });

    test('a deployment that failed (no binary cache yet) is re-run from the agent page after the cache is set in Settings, and succeeds', async () => {
      const p = page();
      const made = await createTokenInUi('activate', { description: 'ci' });
      activateToken = made.secret;
      assert.equal(made.command, `DROVER_ACTIVATE_TOKEN=${activateToken} drover activate deploy.json --server ${publicUrl}`);

      const spec = await world.specFile({ [agentName]: world.fixtures.nixos });
      const r = await world.activate([spec], activateToken);
      assert.equal(r.code, 1, `without a cache the closure cannot be substituted:\n${r.stdout}${r.stderr}`);
      const failedId = deploymentIds(r.stdout).get(agentName)!;
      assert.ok(failedId, r.stdout);
      assert.match(r.stdout, new RegExp(`/w/${ws}/deployments/${failedId}$`, 'm'), 'activate prints the UI page of the deployment');

      await p.goto(`/w/${ws}/deployments/${failedId}`);
      await waitForStatus('Failed');
      await p.getByTestId('log').locator('.log-line').first().waitFor();
      await admin.shoot('deployment-failed');

      await p.getByRole('link', { name: 'Settings' }).click();
      await p.getByLabel('Substituter URL').fill(world.cache.url);
      await p.getByLabel('Public key').fill(world.cache.publicKey);
      await p.getByRole('button', { name: 'Save cache' }).click();
      await p.getByText('Saved.').waitFor();
      const saved = await wsApi<{ cache: { substituter: string; publicKey: string } | null }>('');
      assert.deepEqual(saved.cache, { substituter: world.cache.url, publicKey: world.cache.publicKey });
      // A built-in cache made here; with an external cache set, the page says agents keep using that one.
      const caches = p.getByTestId('builtin-caches');
      await caches.getByLabel('New cache name').fill(`${ws}-bin`);
      await caches.getByRole('button', { name: 'Create cache' }).click();
      await caches.getByRole('cell', { name: `${ws}-bin-1 Copy key` }).waitFor();
      await caches.getByText('Agents use the external cache set above').waitFor();
      const listed = await wsApi<{ caches: { name: string; publicKey: string }[] }>('/caches');
      assert.deepEqual(
        listed.caches.map((c) => c.name),
        [`${ws}-bin`],
      );
      assert.match(listed.caches[0]!.publicKey, new RegExp(`^${ws}-bin-1:`));
      await admin.shoot('settings');

      await p.goto(`/w/${ws}/agents/${agentName}`);
      const rerun = p.getByRole('button', { name: 'Re-run failed #1' });
      await rerun.waitFor();
      await admin.shoot('agent-failed');
      await rerun.click();
      await p.getByRole('button', { name: 'Re-run #1 now' }).click(); // it asks first
      await p.waitForURL((u) => /\/deployments\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(failedId));
      const newId = p.url().split('/').pop()!;
      await waitForStatus('Succeeded');
      const d = await wsApi<Deployment>(`/deployments/${newId}`);
      assert.equal(d.status, 'Succeeded');
      assert.equal(d.index, 2);
      assert.equal(d.storePath, world.fixtures.nixos);
      assert.deepEqual(d.createdBy && { kind: d.createdBy.kind, id: d.createdBy.id }, { kind: 'user', id: ADMIN });
      assert.equal(await activePath(agent.profile), world.fixtures.nixos);
    });

    test('`drover activate`: the page it prints shows the log live and ends Succeeded', async () => {
      const p = page();
      const spec = await world.specFile({ [agentName]: world.fixtures.nixos_slow });
      const proc = world.track(spawnDrover('activate', ['activate', spec, '--server', world.server.url], { DROVER_ACTIVATE_TOKEN: activateToken }));
      const url = (await proc.waitForOutput(new RegExp(`^\\[${agentName}\\] (\\S+/deployments/[0-9a-f-]{36})$`, 'm')))[1]!;
      succeededId = url.split('/').pop()!;
      await p.goto(new URL(url).pathname);
      await admin.markDocument();
      const log = p.getByTestId('log');
      await log.locator('.log-line', { hasText: 'activating slowly' }).waitFor({ timeout: 60_000 });
      assert.equal(await statusOf(), 'InProgress', 'a log line appeared while the deployment was still running');
      assert.equal(await log.locator('.log-line', { hasText: 'slow activation finished' }).count(), 0);
      await admin.shoot('deployment-running');
      await waitForStatus('Succeeded');
      await log.locator('.log-line', { hasText: 'slow activation finished' }).waitFor();
      await p.getByTestId('log-state').filter({ hasText: 'complete' }).waitFor();
      assert.ok(await admin.stillSameDocument(), 'no reload while streaming');
      assert.equal(await proc.exited, 0, proc.output);
      // Every stored line is on the page, in order, once.
      const stored = (await wsApi<{ lines: { seq: number }[] }>(`/deployments/${succeededId}/log`)).lines;
      const shown = await log.locator('.log-line').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
      assert.deepEqual(
        shown,
        stored.map((l) => l.seq),
      );
      await admin.shoot('deployment-succeeded');

      await p.getByRole('link', { name: 'Deployments', exact: true }).click();
      await p.locator(`tr[data-deployment="${succeededId}"]`).waitFor();
      await admin.shoot('deployments');
      await p.goto(`/w/${ws}/agents/${agentName}`);
      await p.getByRole('button', { name: 'Re-deploy current path' }).waitFor();
      await admin.shoot('agent');
    });

    test("an offline agent's pending deployment is cancelled from the UI and never runs", async () => {
      const p = page();
      const idleName = randomName('idle');
      const { secret } = await createTokenInUi('agent', { agent: idleName, description: 'offline machine' });
      const spec = await world.specFile({ [idleName]: world.fixtures.plain });
      const r = await world.activate([spec, '--async'], activateToken);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const id = deploymentIds(r.stdout).get(idleName)!;
      assert.ok(id, r.stdout);

      await p.goto(`/w/${ws}/deployments/${id}`);
      await waitForStatus('Pending');
      await p.getByTestId('log-state').filter({ hasText: 'waiting for the agent' }).waitFor();
      await p.getByTestId('pending-notice').filter({ hasText: 'never connected' }).waitFor();
      await admin.shoot('deployment-pending');
      await p.getByRole('button', { name: 'Cancel' }).click();
      await p.getByRole('button', { name: 'Cancel it now' }).click(); // it asks first
      await waitForStatus('Cancelled');
      await p.getByRole('button', { name: 'Re-run' }).waitFor();

      const idle = await world.agent({ name: idleName, token: secret });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const d = await wsApi<Deployment>(`/deployments/${id}`);
      assert.equal(d.status, 'Cancelled');
      assert.equal(d.startedAt, null, 'the agent never started it');
      assert.equal(await activePath(idle.profile), null, 'the profile was never switched');
      assert.doesNotMatch(idle.proc.output, new RegExp(id));
    });

    test('a viewer sees no token or deploy buttons, and the API answers 403 to its POSTs', async () => {
      const password = randomBytes(12).toString('hex');
      await createUser(world.backend, VIEWER, 'viewer', password, ws);
      const viewer = await UiUser.open(browser, world.server.url, `${kind}-viewer`);
      try {
        const p = viewer.page;
        await p.goto('/login');
        await viewer.signIn(VIEWER, password);
        await p.waitForURL((u) => u.pathname === `/w/${ws}/agents`); // the only workspace it has a role in
        await p.locator(`tr[data-agent="${agentName}"]`).waitFor();
        const tabs = p.getByRole('navigation', { name: 'Workspace' });
        assert.equal(await tabs.getByRole('link', { name: 'Tokens' }).count(), 0);
        assert.equal(await tabs.getByRole('link', { name: 'Settings' }).count(), 0);
        assert.equal(await tabs.getByText('viewer').count(), 1);
        await viewer.shoot('agents');

        await p.goto(`/w/${ws}/agents/${agentName}`);
        await p.getByRole('heading', { name: 'Deployment history' }).waitFor();
        await p.locator('[data-testid="deployments-table"]').waitFor();
        assert.equal(await p.getByRole('button', { name: /Re-deploy|Re-run/ }).count(), 0);
        await p.goto(`/w/${ws}/deployments/${succeededId}`);
        await p.locator('h1 [data-status="Succeeded"]').waitFor();
        assert.equal(await p.getByRole('button', { name: /Re-run|Cancel/ }).count(), 0);
        await viewer.shoot('deployment');

        await p.goto(`/w/${ws}/tokens`);
        const alert = p.getByRole('alert');
        await alert.waitFor();
        assert.match((await alert.textContent()) ?? '', /viewer/, "typed in by URL, the page shows the API's refusal");
        assert.equal(await p.getByRole('button', { name: /Create token|Revoke/ }).count(), 0);
        await viewer.shoot('tokens-denied');

        const csrf = await viewer.csrfToken();
        const headers = { 'x-drover-csrf': csrf };
        const token = await viewer.fetchJson('POST', `/api/v1/workspaces/${ws}/tokens`, { kind: 'admin' }, headers);
        assert.equal(token.status, 403, JSON.stringify(token.json));
        assert.match((token.json as { code: string }).code, /^DROVER_ERR_/);
        const rerun = await viewer.fetchJson('POST', `/api/v1/workspaces/${ws}/deployments/${succeededId}/rerun`, {}, headers);
        assert.equal(rerun.status, 403, JSON.stringify(rerun.json));
        const redeploy = await viewer.fetchJson('POST', `/api/v1/workspaces/${ws}/agents/${agentName}/redeploy`, {}, headers);
        assert.equal(redeploy.status, 403, JSON.stringify(redeploy.json));
        const activate = await viewer.fetchJson('POST', `/api/v1/workspaces/${ws}/activate`, { agents: { [agentName]: world.fixtures.nixos } }, headers);
        assert.equal(activate.status, 403, JSON.stringify(activate.json));
        assert.deepEqual(
          viewer.pageErrors.filter((e) => !/40[13]/.test(e)),
          [],
        );
      } finally {
        await viewer.close();
      }
    });

    test('a token revoked in the UI stops working at once: the API refuses it and its agent goes offline live', async () => {
      const p = page();
      const before = await api(world.server.url, activateToken, 'GET', `/agents`);
      assert.equal(before.status, 200, JSON.stringify(before.json));

      // A second tab keeps the agents page open: the agent must turn offline there without a reload.
      const watcher = await admin.context.newPage();
      await watcher.goto(`/w/${ws}/agents`);
      await watcher.locator(`tr[data-agent="${agentName}"] [data-presence="online"]`).waitFor();
      await watcher.locator('[data-live="live"]').waitFor();

      await p.goto(`/w/${ws}/tokens`);
      const activateId = activateToken.split('_')[2]!;
      const agentId = agentToken.split('_')[2]!;
      for (const id of [activateId, agentId]) {
        const row = p.locator(`tr[data-token="${id}"]`);
        await row.getByRole('button', { name: 'Revoke' }).click();
        await row.getByRole('button', { name: 'Revoke now' }).click();
        await row.getByText('revoked').waitFor();
      }
      const afterRevoke = await api<{ code: string }>(world.server.url, activateToken, 'GET', `/agents`);
      assert.equal(afterRevoke.status, 401, JSON.stringify(afterRevoke.json));
      assert.equal(afterRevoke.json.code, 'DROVER_ERR_TOKEN_REVOKED');
      await admin.shoot('tokens');

      await watcher.locator(`tr[data-agent="${agentName}"] [data-presence="offline"]`).waitFor({ timeout: 20_000 });
      await watcher.close();
      await waitFor('the agent to log the revocation', () => /revoked/i.test(agent.proc.output), 20_000);
      assert.deepEqual(admin.pageErrors, []);
    });

    test('10,000 agents: the table pages on the server, filters by name and status, and shows a live agent among them', async () => {
      const p = page();
      const fleetWs = `fleet-${randomBytes(3).toString('hex')}`;
      const created = await admin.fetchJson('POST', '/api/v1/workspaces', { name: fleetWs }, { 'x-drover-csrf': await admin.csrfToken() });
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const liveName = 'fleet-04242';
      const tokens = await declareFleet(world.backend, fleetWs, 'fleet', 10_000, [liveName]);

      const started = Date.now();
      await p.goto(`/w/${fleetWs}/agents`);
      const rows = p.locator('[data-testid="agents-table"] tbody tr');
      await rows.first().waitFor();
      const firstPaint = Date.now() - started;
      assert.ok(firstPaint < 3000, `first page of 10,000 agents shown in ${firstPaint} ms`);
      assert.equal(await rows.count(), 50);
      await p.getByText('1–50 of 10,000').waitFor();
      await p.getByRole('button', { name: 'Next →' }).click();
      await p.getByText('51–100 of 10,000').waitFor();
      assert.equal(await rows.first().getAttribute('data-agent'), 'fleet-00050');

      const t0 = Date.now();
      const timed = await admin.fetchJson('GET', `/api/v1/workspaces/${fleetWs}/agents?limit=50&offset=9950&q=fleet`);
      const apiMs = Date.now() - t0;
      assert.equal((timed.json as { total: number }).total, 10_000);
      assert.ok(apiMs < 1500, `a page deep in 10,000 agents took ${apiMs} ms`);

      await p.getByLabel('Name').fill('04242');
      await p.locator('tr[data-agent="fleet-04242"]').waitFor();
      await waitFor('the filter to leave one row', async () => (await rows.count()) === 1, 5000);
      await p.getByLabel('Status').selectOption('online');
      await p.getByText('No agent matches this filter.').waitFor();
      await p.locator('[data-live="live"]').waitFor();
      const live = await world.agent({ name: liveName, token: tokens.get(liveName)! });
      await p.locator('tr[data-agent="fleet-04242"] [data-presence="online"]').waitFor({ timeout: 20_000 });
      await p.getByLabel('Name').fill('');
      await p.getByText('1 matching').waitFor();
      await admin.shoot('agents-10k-online');
      await live.proc.stop();
      await p.getByLabel('Status').selectOption('');
      await p.getByText('10,000 in this workspace').waitFor();
      await admin.shoot('agents-10k');
    });

    test('a deployment with a 200,000-line log shows its last lines within seconds, keeps the page light and loads older lines on demand', async () => {
      const p = page();
      const bigWs = `biglog-${randomBytes(3).toString('hex')}`;
      const csrf = { 'x-drover-csrf': await admin.csrfToken() };
      const created = await admin.fetchJson('POST', '/api/v1/workspaces', { name: bigWs }, csrf);
      assert.equal(created.status, 201, JSON.stringify(created.json));
      const name = 'biglog-00000';
      await declareFleet(world.backend, bigWs, 'biglog', 1);
      const activated = await admin.fetchJson('POST', `/api/v1/workspaces/${bigWs}/activate`, { agents: { [name]: world.fixtures.plain } }, csrf);
      assert.equal(activated.status, 201, JSON.stringify(activated.json));
      const id = (activated.json as { agents: Record<string, { id: string }> }).agents[name]?.id ?? '';
      const agentId = (await admin.fetchJson('GET', `/api/v1/workspaces/${bigWs}/agents/${name}`)).json as { id: string };
      const total = 200_000;
      await storeBigLog(world.backend, agentId.id, id, total);

      const started = Date.now();
      await p.goto(`/w/${bigWs}/deployments/${id}`);
      const log = p.getByTestId('log');
      await log.locator(`.log-line[data-seq="${total - 1}"]`).waitFor({ timeout: 15_000 });
      const shownMs = Date.now() - started;
      assert.ok(shownMs < 5000, `the last line of a 200,000-line log was shown after ${shownMs} ms`);
      assert.equal(await log.locator('.log-line', { hasText: bigLogText(total - 1) }).count(), 1);
      const rows = await log.locator('.log-line').count();
      assert.ok(rows <= 600, `${rows} log rows in the document`);
      await admin.shoot('deployment-big-log');

      await p.getByRole('button', { name: 'Load older lines' }).click();
      await waitFor('an older page of the log', async () => Number(await log.getAttribute('data-lines')) === 2000, 10_000);
      await log.evaluate((el) => {
        el.scrollTop = 0;
      });
      await log.locator(`.log-line[data-seq="${total - 2000}"]`).waitFor({ timeout: 5000 });
      assert.ok((await log.locator('.log-line').count()) <= 600, 'still a window of rows after scrolling');
      await admin.shoot('deployment-big-log-older');
      assert.deepEqual(admin.pageErrors, []);
    });
  });
}
