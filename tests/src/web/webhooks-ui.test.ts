/**
 * Webhooks and usage end to end on SQLite, against a real `drover server`
 * and a real HTTP receiver on 127.0.0.1: `drover webhooks create|list|test|
 * deliveries|disable|rm` and `drover usage`; a real `drover agent` process
 * connected (no deployment, no Nix) raises the month's peak; in headless
 * Chromium an admin adds a Slack-format hook (the secret is shown once),
 * sends a test ping and reads it delivered in the delivery log, and
 * Settings shows the usage. Screenshots of both pages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createToken, drover, makeBackend, startAgent, startServer, waitFor, type Backend, type DroverProcess, type ServerHandle } from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';

const ADMIN = 'hook-admin';
const VIEWER = 'hook-viewer';

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('webhooks and usage: CLI and web UI (SQLite, Chromium)', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let adminToken: string;
  let browser: Browser;
  let user: UiUser;
  let receiver: Server;
  let receiverUrl = '';
  const got: Received[] = [];
  const procs: DroverProcess[] = [];
  const password = randomBytes(12).toString('hex');
  const agent = `hooked-${randomBytes(2).toString('hex')}`;

  const cli = async (args: string[], token = adminToken) => {
    const r = await drover([...args, '--server', server.url, '--token', token]);
    return r;
  };

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'webhooks-ui-'));
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    adminToken = await createToken(backend, 'admin');
    await createUser(backend, ADMIN, 'admin', password);
    await createUser(backend, VIEWER, 'viewer', password);
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        got.push({ path: req.url ?? '/', headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    if (typeof address !== 'object' || !address) throw new Error('receiver has no address');
    receiverUrl = `http://127.0.0.1:${address.port}`;
    const home = join(dir, 'agent');
    await mkdir(join(home, 'profiles'), { recursive: true });
    procs.push(
      await startAgent(agent, {
        server: server.url,
        token: await createToken(backend, 'agent', ['--agent', agent]),
        profile: join(home, 'profiles', 'system'),
        stateDir: join(home, 'state'),
      }),
    );
    browser = await launchBrowser();
    user = await UiUser.open(browser, server.url, 'webhooks');
    await user.signIn(ADMIN, password);
  });

  after(async () => {
    await user.close();
    await browser.close().catch(() => {});
    for (const p of procs) await p.stop();
    await server.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test('the CLI adds, tests, lists and removes a hook; the ping arrives signed', async () => {
    const created = await cli([
      'webhooks',
      'create',
      `${receiverUrl}/cli`,
      '--event',
      'deployment.finished',
      '--event',
      'agent.offline',
      '--offline-minutes',
      '5',
      '--description',
      'from the CLI',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const secret = created.stdout.trim();
    assert.match(secret, /^whsec_/);
    assert.match(created.stderr, /shown this once/);
    const listed = await cli(['webhooks', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const hooks = (JSON.parse(listed.stdout) as { webhooks: { id: string; url: string; offlineMinutes: number }[] }).webhooks;
    const [only] = hooks;
    assert.ok(only && hooks.length === 1, listed.stdout);
    assert.equal(only.offlineMinutes, 5);
    assert.ok(!listed.stdout.includes(secret));
    const id = only.id;
    assert.equal((await cli(['webhooks', 'test', id])).code, 0);
    await waitFor('the CLI ping', () => got.some((r) => r.path === '/cli'), 20_000);
    const ping = got.find((r) => r.path === '/cli');
    assert.ok(ping);
    assert.equal(ping.headers['x-drover-signature'], `sha256=${createHmac('sha256', secret).update(ping.body).digest('hex')}`);
    const log = await waitFor(
      'the ping delivered in the log',
      async () => {
        const r = await cli(['webhooks', 'deliveries', id]);
        return /ping\s+delivered\s+1\s+204/.test(r.stdout) ? r.stdout : undefined;
      },
      20_000,
    );
    assert.match(log, /EVENT\s+STATUS\s+ATTEMPTS/);
    const updated = await cli(['webhooks', 'update', id, '--event', 'rollout.finished', '--format', 'slack', '--json']);
    assert.equal(updated.code, 0, updated.stderr);
    const after = JSON.parse(updated.stdout) as { events: string[]; format: string; offlineMinutes: number; description: string };
    assert.deepEqual([after.events, after.format, after.offlineMinutes, after.description], [['rollout.finished'], 'slack', 5, 'from the CLI']);
    assert.equal((await cli(['webhooks', 'disable', id])).code, 0);
    const bad = await cli(['webhooks', 'create', 'http://user:pw@example.com/', '--event', 'agent.offline']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /user:password/);
    assert.equal((await cli(['webhooks', 'rm', id])).code, 0);
    const gone = await cli(['webhooks', 'rm', id]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /does not exist/);
  });

  test('drover usage shows the connected agent as this month’s peak', async () => {
    const month = new Date().toISOString().slice(0, 7);
    const out = await waitFor(
      'peak 1',
      async () => {
        const r = await cli(['usage']);
        return new RegExp(`${month}\\s+1\\s`).test(r.stdout) ? r.stdout : undefined;
      },
      20_000,
      250,
    );
    assert.match(out, /PEAK AGENTS/);
  });

  test('in the web UI an admin adds a Slack hook, sees its secret once, pings it and reads the delivery log; Settings shows usage', async () => {
    const p = user.page;
    await p.goto('/w/default/webhooks');
    await p.getByRole('heading', { name: 'Webhooks', level: 1 }).waitFor();
    await p.getByLabel('URL').fill(`${receiverUrl}/ui`);
    await p.getByLabel('Format').selectOption('slack');
    await p.getByLabel(/rollout\.finished/).check();
    await p.getByLabel('Description').fill('#deploys');
    await p.getByRole('button', { name: 'Add webhook' }).click();
    const secret = (await p.getByTestId('new-webhook-secret').textContent())?.trim() ?? '';
    assert.match(secret, /^whsec_/);
    await user.shoot('webhook-created');
    await p.getByRole('button', { name: 'Done, I copied it' }).click();
    assert.equal(await p.getByTestId('new-webhook-secret').count(), 0, 'the secret is gone once dismissed');
    const card = p.locator('section.webhook', { hasText: `${receiverUrl}/ui` });
    await card.getByText('deployment.finished, rollout.finished').waitFor();
    await card.getByRole('button', { name: 'Send test' }).click();
    await waitFor('the UI ping', () => got.some((r) => r.path === '/ui'), 20_000);
    const ping = got.find((r) => r.path === '/ui');
    assert.ok(ping);
    assert.deepEqual(Object.keys(JSON.parse(ping.body) as object), ['text']);
    assert.equal(ping.headers['x-drover-signature'], `sha256=${createHmac('sha256', secret).update(ping.body).digest('hex')}`);
    await card.getByRole('button', { name: 'Deliveries' }).click();
    await waitFor(
      'the delivered row',
      async () => {
        if ((await card.locator('tr[data-status="delivered"]').count()) > 0) return true;
        await card.getByRole('button', { name: 'Refresh' }).click();
        return false;
      },
      20_000,
      300,
    );
    await card.locator('tr[data-status="delivered"] summary').first().click();
    await card.getByText('Test delivery from Drover').waitFor();
    await user.shoot('webhook-deliveries');
    await p.goto('/w/default/settings');
    const month = new Date().toISOString().slice(0, 7);
    const row = p.getByTestId('usage').locator(`tr[data-month="${month}"]`);
    await row.waitFor();
    assert.equal(await row.getByTestId('peak-agents').textContent(), '1');
    await p.getByTestId('usage').scrollIntoViewIfNeeded();
    await user.shoot('settings-usage');
    assert.deepEqual(user.pageErrors, []);
  });

  test('a viewer has no Webhooks tab, is refused the page with the reason, and reads usage in Settings', async () => {
    const viewer = await UiUser.open(browser, server.url, 'webhooks-viewer');
    try {
      const p = viewer.page;
      await p.goto('/login');
      await viewer.signIn(VIEWER, password);
      await p.waitForURL((u) => u.pathname === '/w/default/agents');
      const tabs = p.getByRole('navigation', { name: 'Workspace' });
      await tabs.getByText('viewer').waitFor();
      assert.equal(await tabs.getByRole('link', { name: 'Webhooks' }).count(), 0);
      await p.goto('/w/default/webhooks');
      await p
        .getByTestId('webhooks-admins-only')
        .getByText(/Only an admin of default.*your role here is viewer/)
        .waitFor();
      assert.equal(await p.getByRole('button', { name: 'Add webhook' }).count(), 0);
      await p.goto('/w/default/settings');
      const month = new Date().toISOString().slice(0, 7);
      await p.getByTestId('usage').locator(`tr[data-month="${month}"]`).waitFor();
      assert.equal(await p.getByTestId('usage').locator(`tr[data-month="${month}"]`).getByTestId('peak-agents').textContent(), '1');
      await viewer.shoot('settings-viewer');
    } finally {
      await viewer.close();
    }
  });
});
