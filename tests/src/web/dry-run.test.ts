/**
 * The deployment page of a dry run in headless Chromium (Debian's, via
 * playwright-core), against a real `drover server` (SQLite), a real agent
 * and real Nix: a `drover activate --dry` of the nixos_dry fixture shows
 * "Dry run" and the units a switch would stop, reload, restart and start;
 * the page of a real deployment shows no such part; the deployments list
 * tags the dry run. Screenshots at desktop and phone width.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { deploymentIds, World } from '../e2e/harness.js';
import { createUser, launchBrowser, UiUser } from './browser.js';

describe('web UI: a dry run’s deployment page', { timeout: 600_000 }, () => {
  const world = new World('sqlite');
  const password = randomBytes(12).toString('hex');
  let browser: Browser | undefined;
  let user: UiUser | undefined;

  before(async () => {
    await world.setUp();
    await createUser(world.backend, 'dora', 'admin', password);
    browser = await launchBrowser();
    user = await UiUser.open(browser, world.server.url, 'dry-run');
    await user.signIn('dora', password);
  });
  after(async () => {
    await user?.close();
    await browser?.close().catch(() => {});
    await world.tearDown();
  });

  test('"Dry run" and the unit lists; a real deployment has neither', async () => {
    const dryPath = await world.extraFixture('nixos_dry');
    const agent = await world.agent();
    const real = await world.activate([await world.specFile({ [agent.name]: world.fixtures.nixos })]);
    assert.equal(real.code, 0, real.stdout + real.stderr);
    const dry = await world.activate([await world.specFile({ [agent.name]: dryPath }), '--dry']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);

    const page = user!.page;
    await page.goto(`/w/default/deployments/${deploymentIds(dry.stdout).get(agent.name)!}`);
    const section = page.getByTestId('dry-run');
    await section.waitFor();
    assert.match((await section.locator('h2').textContent()) ?? '', /^Dry run/);
    const units = async (action: string) => (await page.getByTestId(`would-${action}`).locator('code').allTextContents()).sort();
    assert.deepEqual(await units('stop'), ['old-app.service']);
    assert.deepEqual(await units('reload'), ['dbus.service', 'nginx.service']);
    assert.deepEqual(await units('restart'), ['sshd.service', 'systemd']);
    assert.deepEqual(await units('start'), ['new-app.service', 'old-app.service']);
    assert.match((await page.getByTestId('would-restart').locator('dt').textContent()) ?? '', /Would restart \(2\)/);
    await page.getByText('would restart the following units: sshd.service').first().waitFor();
    await user!.shoot('deployment');

    await page.goto(`/w/default/deployments/${deploymentIds(real.stdout).get(agent.name)!}`);
    await page.locator('h1 [data-status="Succeeded"]').waitFor();
    assert.equal(await page.getByTestId('dry-run').count(), 0);

    await page.goto('/w/default/deployments');
    const dryRow = page.locator(`tr[data-deployment="${deploymentIds(dry.stdout).get(agent.name)!}"]`);
    await dryRow.waitFor();
    assert.equal(await dryRow.locator('.dry-tag').textContent(), 'dry run');
    assert.equal(await page.locator(`tr[data-deployment="${deploymentIds(real.stdout).get(agent.name)!}"] .dry-tag`).count(), 0);
    await user!.shoot('deployments');
    assert.deepEqual(user!.pageErrors, []);
  });
});
