/**
 * The audit log page end to end on SQLite in headless Chromium: a real
 * `drover server`, changes made by a signed-in admin (through the UI's own
 * API calls), by an admin token (`drover token create --server`) and on the
 * server machine; the admin's "Audit" tab lists them newest first with
 * who, action, target and address, filters by kind of action and by actor,
 * and a viewer gets no tab and a refusal; a global admin reads every
 * workspace's and the server-wide entries at /audit. Screenshots at desktop and phone
 * width. No agents, no Nix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { CSRF_HEADER } from '@drover/protocol';
import { Teardown } from '@drover/test-support';
import { createToken, drover, makeBackend, startServer, type Backend, type ServerHandle } from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';

const ADMIN = 'audit-admin';
const VIEWER = 'audit-viewer';
const ROOT = 'audit-root';

describe('audit log page (SQLite, Chromium)', { timeout: 300_000 }, () => {
  let backend: Backend;
  let server: ServerHandle;
  let browser: Browser;
  let admin: UiUser;
  let adminToken: string;
  let tokenId = '';
  const password = randomBytes(12).toString('hex');
  const teardown = new Teardown();

  before(async () => {
    const dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'audit-ui-'));
    if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    teardown.add(() => server.stop());
    adminToken = await createToken(backend, 'admin', ['--description', 'release bot']);
    await createUser(backend, ADMIN, 'admin', password, 'default');
    await createUser(backend, VIEWER, 'viewer', password, 'default');
    await createUser(backend, ROOT, 'admin', password);
    browser = await launchBrowser();
    teardown.add(() => browser.close());
    admin = await UiUser.open(browser, server.url, 'audit-admin');
    teardown.add(() => admin.close());
    await admin.signIn(ADMIN, password);
    // A token made by the signed-in admin, the way the Tokens page makes it; one made by the admin token.
    const made = await admin.fetchJson(
      'POST',
      '/api/v1/workspaces/default/tokens',
      { kind: 'activate', description: 'from the UI' },
      {
        [CSRF_HEADER]: await admin.csrfToken(),
      },
    );
    assert.equal(made.status, 201, JSON.stringify(made.json));
    tokenId = (made.json as { info: { id: string } }).info.id;
    const cli = await drover(['token', 'create', '--kind', 'pull', '--description', 'nix netrc', '--server', server.url, '--token', adminToken]);
    assert.equal(cli.code, 0, cli.stderr);
  });
  after(() => teardown.run());

  test('an admin sees who changed what, filters by action and actor, and a target links to nothing it should not', async () => {
    const page = admin.page;
    await page.goto('/w/default/agents');
    await page.getByRole('link', { name: 'Audit', exact: true }).click();
    await page.waitForURL('**/w/default/audit');
    const rows = page.locator('[data-testid="audit-table"] tbody tr');
    await rows.first().waitFor();
    const actions = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')));
    // The admin token's, the user's, then the commands on the server machine (users, the admin token).
    assert.deepEqual(actions, ['token.create', 'token.create', 'user.create', 'user.create', 'token.create']);
    const userRow = rows.nth(1);
    assert.match(
      (await userRow.innerText()).replace(/\s+/g, ' '),
      new RegExp(`${ADMIN} \\(user\\) token\\.create ${tokenId} 127\\.0\\.0\\.1 .*description from the UI`),
    );
    assert.match((await rows.nth(0).innerText()).replace(/\s+/g, ' '), /release bot \(token\) token\.create/);
    assert.match((await rows.nth(4).innerText()).replace(/\s+/g, ' '), /\(server machine\) token\.create .* local/);
    assert.match(await page.locator('.page-header p.sub').innerText(), /5 changes recorded\. Entries are kept 365 days\./);
    await admin.shoot('audit');

    await page.getByLabel('Action').selectOption('user');
    await page.waitForURL('**/audit?action=user');
    /** Waits until no row of this action is left (`first()` matches again on every poll). */
    const noneLeft = (action: string) => page.locator(`[data-testid="audit-table"] tbody tr[data-action="${action}"]`).first().waitFor({ state: 'detached' });
    await noneLeft('token.create');
    assert.equal(await rows.count(), 2);
    await page.getByLabel('Action').selectOption('');
    await page.getByLabel('Actor').fill('release bot');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/actor=release/);
    await noneLeft('user.create');
    assert.equal(await rows.count(), 1);
    assert.deepEqual(admin.pageErrors, []);
  });

  test("a global admin opens the whole server's log from the home page: server-wide entries and a workspace column", async () => {
    const root = await UiUser.open(browser, server.url, 'audit-root');
    try {
      await root.signIn(ROOT, password);
      await root.page.goto('/');
      await root.page.getByRole('link', { name: 'Audit log of every workspace' }).click();
      await root.page.waitForURL('**/audit');
      const rows = root.page.locator('[data-testid="audit-table"] tbody tr');
      await rows.first().waitFor();
      const cells = await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-action'), tr.querySelector('td:nth-child(2)')?.textContent ?? '']));
      // Newest first: the root's own sign-in; signing in and the root's creation are server-wide, the rest is filed under default.
      assert.deepEqual(cells[0], ['session.create', 'server']);
      assert.deepEqual(
        cells.filter(([, ws]) => ws === 'server').map(([action]) => action),
        ['session.create', 'session.create', 'user.create'],
      );
      assert.equal(cells.filter(([, ws]) => ws === 'default').length, 5);
      await root.shoot('server-audit');
      await root.page.getByRole('searchbox', { name: 'Workspace' }).fill('default');
      await root.page.getByRole('button', { name: 'Filter' }).click();
      await root.page.waitForURL(/workspace=default/);
      await root.page.locator('[data-testid="audit-table"] tbody tr[data-action="session.create"]').first().waitFor({ state: 'detached' });
      assert.equal(await rows.count(), 5);
      assert.deepEqual(root.pageErrors, []);
    } finally {
      await root.close();
    }
  });

  test('a viewer has no Audit tab, and the page refuses', async () => {
    const viewer = await UiUser.open(browser, server.url, 'audit-viewer');
    try {
      await viewer.signIn(VIEWER, password);
      await viewer.page.goto('/w/default/agents');
      await viewer.page.getByRole('navigation', { name: 'Workspace' }).waitFor();
      assert.equal(await viewer.page.getByRole('link', { name: 'Audit', exact: true }).count(), 0);
      await viewer.page.goto('/w/default/audit');
      await viewer.page.getByText(/viewer role in workspace default cannot change tokens or settings/).waitFor();
      assert.equal(await viewer.page.locator('[data-testid="audit-table"]').count(), 0);
    } finally {
      await viewer.close();
    }
  });
});
