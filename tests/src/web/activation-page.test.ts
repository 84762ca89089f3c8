/**
 * The activation page in headless Chromium against a real `drover server`
 * (SQLite) with simulated agents (sim-agent.ts: real websockets, no Nix):
 * a 4-agent activation is one group of 4 rows with counts that follow the
 * agents live to Succeeded, and the deployment page links back to it; a
 * rollout shows one group per wave, pauses and resumes from its buttons,
 * holds the rest after a failure over budget or an abort (asked first),
 * shows a viewer no buttons, and lists the agents left unchanged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { ActivateResponse } from '@drover/protocol';
import { waitFor } from '@drover/test-support';
import { api, createToken, makeBackend, startServer, type ServerHandle } from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';
import { declareFleet } from './fleet.js';
import { SimAgent } from './sim-agent.js';

const ADMIN = 'ada';
const WS = 'default';
const VIEWER = 'vic';
const storePath = (c: string) => `/nix/store/${c.repeat(32)}-sim-system-${c}`;
const [PATH_A, PATH_B, PATH_C, PATH_D, PATH_E] = ['a', 'b', 'c', 'd', 'f'].map(storePath) as [string, string, string, string, string];

/** Waits for the document title to match: the page sets it in an effect, a moment after what it shows. */
async function titleMatching(page: Page, title: RegExp): Promise<void> {
  await waitFor(`the title to match ${String(title)}`, async () => title.test(await page.title()), 5000).catch(async () => {
    assert.match(await page.title(), title);
  });
}

describe('the activation page', { timeout: 300_000 }, () => {
  const password = randomBytes(12).toString('hex');
  const viewerPassword = randomBytes(12).toString('hex');
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
    await createUser(backend, VIEWER, 'viewer', viewerPassword, WS);
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
    await titleMatching(p, /running/);
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
    await titleMatching(p, new RegExp(`Activation ${made.activationId.slice(0, 8)}.*succeeded`));
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

  /** Activates `spec` (a rollout) and opens the page its answer names. */
  async function openRollout(spec: Record<string, unknown>): Promise<ActivateResponse> {
    const made = await activate(spec);
    assert.match(made.url, new RegExp(`/w/${WS}/activations/${made.activationId}$`), 'the answer names the activation page');
    await admin.page.goto(new URL(made.url).pathname);
    return made;
  }
  const wave = (index: number) => admin.page.locator(`section.wave[data-wave="${index}"]`);
  const rolloutState = (state: string) => admin.page.locator(`h1 [data-activation-state="${state}"]`).waitFor();

  test('a rollout in 2 waves: one group per wave; paused from the button it holds wave 2 Queued, and Resume carries on to completed', async () => {
    const p = admin.page;
    agent(names[0]!).outcome = 'hold';
    for (const name of names.slice(1)) agent(name).outcome = 'Succeeded';
    const before = names.map((n) => agent(n).orders.length);
    await openRollout({
      agents: Object.fromEntries(names.map((n) => [n, PATH_B])),
      rollout: { waves: [{ agents: [names[0]] }, { percent: 100 }] },
    });
    await agent(names[0]!).waitForOrders(before[0]! + 1);
    await wave(0).locator(`tbody tr[data-agent="${names[0]}"] [data-status="InProgress"]`).waitFor();
    await wave(1).locator('tbody [data-status="Queued"]').nth(2).waitFor();
    assert.equal(await p.locator('section.wave[data-wave]').count(), 2);
    assert.equal(await wave(1).locator('tbody tr').count(), 3);
    await rolloutState('running');
    await admin.shoot('rollout-running');

    await p.getByRole('button', { name: 'Pause' }).click();
    await rolloutState('paused');
    agent(names[0]!).finish(agent(names[0]!).orders.at(-1)!.id, 'Succeeded');
    await wave(0).locator('tbody [data-status="Succeeded"]').waitFor();
    assert.equal(await wave(1).locator('tbody [data-status="Queued"]').count(), 3, 'paused: wave 2 is not released');
    assert.equal(agent(names[1]!).orders.length, before[1], 'no order reached a wave-2 agent');
    await titleMatching(p, /paused/);
    await admin.shoot('rollout-paused');

    await p.getByRole('button', { name: 'Resume' }).click();
    await rolloutState('completed');
    await count('Succeeded').filter({ hasText: '4' }).waitFor();
    for (const name of names.slice(1)) assert.equal(agent(name).orders.length, before[names.indexOf(name)]! + 1);
    assert.equal(await p.getByRole('button', { name: /Pause|Resume|Abort/ }).count(), 0, 'a completed rollout has no buttons');
    await admin.shoot('rollout-completed');
  });

  test('a failure over the budget stops the rollout: the rest are Held, never started, with the reason', async () => {
    const p = admin.page;
    agent(names[0]!).outcome = 'Failed';
    const before = names.map((n) => agent(n).orders.length);
    await openRollout({
      agents: Object.fromEntries(names.map((n) => [n, PATH_C])),
      rollout: { waves: [{ agents: [names[0]] }, { percent: 100 }], maxFailures: 0 },
    });
    await rolloutState('stopped');
    await wave(0).locator('tbody [data-status="Failed"]').waitFor();
    await count('Held').filter({ hasText: '3' }).waitFor();
    assert.equal(await wave(1).locator('tbody [data-status="Held"]').count(), 3);
    await p.getByTestId('rollout-reason').waitFor();
    for (const [i, name] of names.entries()) if (i > 0) assert.equal(agent(name).orders.length, before[i], `${name} never got an order`);
    await admin.shoot('rollout-held');
  });

  test('Abort asks once more, then holds what has not started; a viewer sees no rollout buttons', async () => {
    const p = admin.page;
    agent(names[0]!).outcome = 'hold';
    const made = await openRollout({
      agents: Object.fromEntries(names.map((n) => [n, PATH_D])),
      rollout: { waves: [{ agents: [names[0]] }, { percent: 100 }] },
    });
    await wave(0).locator('tbody [data-status="InProgress"]').waitFor();

    const viewer = await UiUser.open(browser, server.url, 'activation-viewer');
    try {
      await viewer.signIn(VIEWER, viewerPassword);
      await viewer.page.goto(`/w/${WS}/activations/${made.activationId}`);
      await viewer.page.locator('h1 [data-activation-state="running"]').waitFor();
      assert.equal(await viewer.page.getByRole('button', { name: /Pause|Resume|Abort/ }).count(), 0);
    } finally {
      await viewer.close();
    }

    await p.getByRole('button', { name: 'Abort…' }).click();
    await admin.shoot('rollout-abort-confirm');
    await rolloutState('running'); // not yet: it asks first
    await p.getByRole('button', { name: 'Abort: hold the rest' }).click();
    await rolloutState('aborted');
    await count('Held').filter({ hasText: '3' }).waitFor();
    agent(names[0]!).finish(agent(names[0]!).orders.at(-1)!.id, 'Succeeded');
    await wave(0).locator('tbody [data-status="Succeeded"]').waitFor();
    await admin.shoot('rollout-aborted');
  });

  test('agents already on the path are listed unchanged, with no deployment', async () => {
    const p = admin.page;
    for (const a of agents.values()) a.outcome = 'Succeeded';
    // sim-00000 succeeded with PATH_D in the abort test (the others' latest deployments are Held there).
    const made = await openRollout({ agents: { [names[0]!]: PATH_D, [names[2]!]: PATH_E } });
    assert.deepEqual(made.unchanged, [names[0]]);
    await p.getByTestId('unchanged').locator(`[data-agent="${names[0]}"]`).waitFor();
    await count('Succeeded').filter({ hasText: '1' }).waitFor();
    assert.equal(await p.locator('[data-testid="activation-table"] tbody tr').count(), 1);
    await admin.shoot('unchanged');
    assert.deepEqual(admin.pageErrors, []);
  });
});
