/**
 * Secrets in the web UI (SQLite, headless Chromium): simulated agents with
 * age recipients (sim-agent.ts), a secret set with the real `drover secret
 * set`; a viewer sees the agent's recipient on its page, the Secrets page
 * lists name, targets, path, owner, mode and version read-only — never the
 * ciphertext —, flags a target whose recipient changed, and the
 * secrets-only deployment is marked on its page. Screenshots are saved.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { SecretSetResponse } from '@drover/protocol';
import { Teardown, run } from '@drover/test-support';
import { api, createToken, drover, makeBackend, startServer, type Backend, type ServerHandle } from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';
import { SimAgent } from './sim-agent.js';

/** A fresh recipient from Debian's age-keygen (the identity itself is thrown away: the page only shows the recipient). */
async function recipient(): Promise<string> {
  const r = await run('age-keygen', []);
  const found = /public key: (age1[0-9a-z]+)/.exec(r.stdout + r.stderr)?.[1];
  if (!found) throw new Error(`age-keygen gave no recipient (${r.code}): ${r.stderr}`);
  return found;
}

describe('secrets in the web UI (SQLite, Chromium)', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let activate: string;
  let browser: Browser;
  let viewer: UiUser;
  const teardown = new Teardown();
  const password = randomBytes(12).toString('hex');
  const recipients: Record<string, string> = {};
  let set: SecretSetResponse;

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'secrets-page-'));
    teardown.add(() => rm(dir, { recursive: true, force: true }));
    backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    teardown.add(() => server.stop());
    activate = await createToken(backend, 'activate');
    for (const name of ['web-1', 'web-2']) recipients[name] = await recipient();
    for (const [name, r] of Object.entries(recipients)) {
      const sim = await SimAgent.connect(server.url, name, await createToken(backend, 'agent', ['--agent', name]), { recipient: r });
      teardown.add(async () => sim.close());
      const res = await api(server.url, activate, 'POST', '/activate?cacheCheck=false', { agents: { [name]: `/nix/store/${'b'.repeat(32)}-${name}` } });
      assert.equal(res.status, 201, JSON.stringify(res.json));
      await sim.waitForOrders(1);
    }
    const r = await drover(
      ['secret', 'set', 'db-password', '--agent', 'web-1', '--agent', 'web-2', '--owner', 'postgres:postgres', '--mode', '0440', '--json'],
      { DROVER_SERVER: server.url, DROVER_ACTIVATE_TOKEN: activate },
      'hunter2-ui',
    );
    assert.equal(r.code, 0, r.stderr);
    set = JSON.parse(r.stdout) as SecretSetResponse;
    assert.equal(set.deployments.length, 2);
    // web-2 comes back with a new identity: the secret is flagged for it.
    const again = await SimAgent.connect(server.url, 'web-2', await createToken(backend, 'agent', ['--agent', 'web-2']), { recipient: await recipient() });
    teardown.add(async () => again.close());
    await createUser(backend, 'vera', 'viewer', password);
    browser = await launchBrowser();
    teardown.add(() => browser.close().catch(() => {}));
    viewer = await UiUser.open(browser, server.url, 'secrets');
    teardown.add(() => viewer.close());
    await viewer.signIn('vera', password);
  });
  after(() => teardown.run());

  test("a viewer sees the agent's recipient, the Secrets page read-only without ciphertext, and the secrets-only deployment marked", async () => {
    const page = viewer.page;
    await page.goto('/w/default/agents/web-1');
    await assert.doesNotReject(
      page
        .getByTestId('agent-recipient')
        .getByText(recipients['web-1'] ?? '')
        .waitFor(),
    );
    await viewer.shoot('agent-recipient');

    await page.getByRole('link', { name: 'Secrets' }).click();
    const row = page.getByTestId('secret-db-password');
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /db-password/);
    assert.match(text, /web-1/);
    assert.match(text, /web-2\s*recipient changed/);
    assert.match(text, /\/run\/drover\/secrets\/db-password/);
    assert.match(text, /postgres:postgres/);
    assert.match(text, /0440/);
    assert.equal(await page.getByRole('button', { name: /set|remove|delete/i }).count(), 0, 'read-only: no button to change secrets');
    const html = await page.content();
    assert.ok(!html.includes('hunter2-ui') && !html.includes('YWdlLWVuY3J5cHRpb24'), 'neither plaintext nor ciphertext on the page');
    await viewer.shoot('secrets');

    const [first] = set.deployments;
    assert.ok(first);
    await page.goto(`/w/default/deployments/${first.id}`);
    await page.locator('h1').getByText('secrets only').waitFor();
    await viewer.shoot('secrets-only-deployment');
    assert.deepEqual(viewer.pageErrors, []);
  });
});
