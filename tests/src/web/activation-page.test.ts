/**
 * The activation page in headless Chromium against a real `drover server`
 * (SQLite) with simulated agents (sim-agent.ts: real websockets, no Nix):
 * a 4-agent activation is one group of 4 rows with counts that follow the
 * agents live to Succeeded, and the deployment page links back to it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { ActivateResponse } from '@drover/protocol';
import { api, createToken, makeBackend, startServer, type ServerHandle } from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';
import { declareFleet } from './fleet.js';
import { SimAgent } from './sim-agent.js';

const ADMIN = 'ada';
const WS = 'default';
const PATH_A = `/nix/store/${'a'.repeat(32)}-sim-system-a`;

describe('the activation page', { timeout: 300_000 }, () => {
  const password = randomBytes(12).toString('hex');
  const names = ['sim-00000', 'sim-00001', 'sim-00002', 'sim-00003'];
  let dir: string;
  let server: ServerHandle;
  let browser: Browser;
  let admin: UiUser;
  let activateToken: string;
  const agents = new Map<string, SimAgent>();
  // What before() opened, for after() to close last first: before() may stop half-way.
  const opened: (() => Promise<void>)[] = [];

  before(async () => {
    const base = process.env['DROVER_TEST_OUTPUT'] ?? tmpdir();
    await mkdir(base, { recursive: true });
    dir = await mkdtemp(join(base, 'activation-page-'));
    opened.push(() => rm(dir, { recursive: true, force: true }));
    const backend = await makeBackend('sqlite', dir);
    server = await startServer(backend);
    opened.push(() => server.stop());
    await createUser(backend, ADMIN, 'admin', password);
    activateToken = await createToken(backend, 'activate');
    const tokens = await declareFleet(backend, WS, 'sim', names.length, names);
    opened.push(async () => agents.forEach((a) => a.close()));
    for (const name of names) agents.set(name, await SimAgent.connect(server.url, name, tokens.get(name)!));
    browser = await launchBrowser();
    opened.push(() => browser.close().catch(() => {}));
    admin = await UiUser.open(browser, server.url, 'activation-admin');
    opened.push(() => admin.close());
    await admin.signIn(ADMIN, password);
  });
  after(async () => {
    for (const close of opened.reverse()) await close();
  });

  async function activate(spec: Record<string, unknown>): Promise<ActivateResponse> {
    const r = await api<ActivateResponse>(server.url, activateToken, 'POST', '/activate?cacheCheck=false', spec);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    return r.json;
  }
  const agent = (name: string) => agents.get(name)!;
  const count = (status: string) => admin.page.getByTestId('activation-counts').locator(`[data-count="${status}"] strong`);

  test('a 4-agent activation: 4 rows in one group with counts, live to Succeeded; the deployment page links to it', async () => {
    for (const a of agents.values()) a.outcome = 'hold';
    const made = await activate({ agents: Object.fromEntries(names.map((n) => [n, PATH_A])) });
    const p = admin.page;
    await p.goto(`/w/${WS}/activations/${made.activationId}`);
    await admin.markDocument();
    const groups = p.locator('section.wave');
    const rows = p.locator('[data-testid="activation-table"] tbody tr');
    await rows.nth(3).waitFor();
    assert.equal(await groups.count(), 1, 'a plain activation is one group');
    assert.equal(await rows.count(), 4);
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-agent'))), names);
    for (const name of names) await agent(name).waitForOrders(1);
    await count('InProgress').filter({ hasText: '4' }).waitFor();
    await p.locator('h1 [data-activation-state="running"]').waitFor();
    assert.match(await p.title(), /running/);
    await admin.shoot('plain-running');

    // Two finish: the page follows without a reload, counts 2 + 2.
    for (const name of names.slice(0, 2)) agent(name).finish(agent(name).orders[0]!.id, 'Succeeded');
    await count('Succeeded').filter({ hasText: '2' }).waitFor();
    await count('InProgress').filter({ hasText: '2' }).waitFor();
    for (const name of names.slice(2)) agent(name).finish(agent(name).orders[0]!.id, 'Succeeded');
    await count('Succeeded').filter({ hasText: '4' }).waitFor();
    assert.equal(await count('InProgress').count(), 0);
    await p.locator('h1 [data-activation-state="succeeded"]').waitFor();
    assert.equal(await rows.locator('[data-status="Succeeded"]').count(), 4);
    assert.match(await p.title(), new RegExp(`Activation ${made.activationId.slice(0, 8)}.*succeeded`));
    assert.ok(await admin.stillSameDocument(), 'live, without a reload');
    await admin.shoot('plain-succeeded');

    // Each row links to its deployment, whose page links back to the activation.
    const first = made.agents[names[0]!]!;
    await rows
      .first()
      .getByRole('link', { name: `#${first.index}` })
      .click();
    await p.waitForURL((u) => u.pathname === `/w/${WS}/deployments/${first.id}`);
    await p.getByRole('link', { name: made.activationId.slice(0, 8) }).click();
    await p.waitForURL((u) => u.pathname === `/w/${WS}/activations/${made.activationId}`);
    await count('Succeeded').filter({ hasText: '4' }).waitFor();
    assert.deepEqual(admin.pageErrors, []);
  });
});
