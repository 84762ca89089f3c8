/**
 * The operator's view in headless Chromium and `drover logs`, against a real
 * `drover server` on SQLite without Nix: the deployments are created through
 * the API for declared agents that never connect, and their progress (start,
 * log lines with ANSI colour codes, a finish 340 ms later) is written
 * straight into the server's database through its own repository functions,
 * as an agent's frames would be. Checked: the log's colours as styled spans
 * (no escape code, no markup from the text), times in the browser's zone
 * (Asia/Tokyo, America/New_York) with date and zone label, the sub-second
 * duration, page titles, the confirmations of Cancel, Re-run and Re-deploy,
 * the dark theme and its contrast, the deployments list filters in the UI
 * and the CLI, and `drover logs` (plain when piped, `--json` lines, `--follow`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Deployment, LogLine, StorePath } from '@drover/protocol';
import { appendLog, markFinished, markStarted, openDatabase } from '@drover/server';
import { api, createToken, drover, makeBackend, spawnDrover, startServer, waitFor, type Backend, type ServerHandle } from '../support/drover.js';
import { createUser, launchBrowser, UiUser } from './browser.js';
import { databaseOptions, declareFleet } from './fleet.js';

const ADMIN = 'oli';
const PASSWORD = 'operator-view-password';
const STARTED = '2026-01-15T03:04:05.000Z';
const FINISHED = '2026-01-15T03:04:05.340Z';
const PATH_A = '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-ansi-demo-system' as StorePath;
const PATH_B = '/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-idle-system' as StorePath;
const [WEB, IDLE] = ['op-00000', 'op-00001'];

const LOG: string[] = [
  '\x1b[1;31merror:\x1b[0m build failed',
  '\x1b[38;5;208morange\x1b[0m and \x1b[38;2;0;128;255mtruecolor\x1b[0m',
  '\x1b]0;window title\x07\x1b[2Kplain after junk',
  '<b>not markup</b> \x1b[32mgreen',
];
const PLAIN = ['error: build failed', 'orange and truecolor', 'plain after junk', '<b>not markup</b> green'];

/** What the page's window offers the code run in it (the tests compile without the DOM library). */
interface InPage {
  getComputedStyle(el: unknown): { color: string; fontWeight: string; backgroundColor: string };
}

/** WCAG contrast ratio of two `rgb(r, g, b)` colours. */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r = 0, g = 0, bl = 0] = (c.match(/\d+(\.\d+)?/g) ?? []).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

describe('the operator view', { timeout: 300_000 }, () => {
  let dir: string;
  let backend: Backend;
  let server: ServerHandle;
  let browser: Browser;
  let adminToken: string;
  const users: UiUser[] = [];
  // What before() opened, in order, for after() to close: before() may stop half-way.
  const opened: (() => Promise<void>)[] = [];
  let succeededId = '';
  let pendingId = '';
  /** The Re-run of the cancelled deployment: Pending, its agent never connects. */
  let rerunId = '';

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the answer's type, as with api()
  const asAdmin = <T>(method: string, path: string, body?: unknown) => api<T>(server.url, adminToken, method, path, body);
  const openUser = async (label: string, options: Parameters<typeof UiUser.open>[3] = {}) => {
    const u = await UiUser.open(browser, server.url, `operator-${label}`, options);
    users.push(u);
    await u.signIn(ADMIN, PASSWORD);
    return u;
  };
  const cli = (args: string[]) => drover([...args, '--server', server.url, '--token', adminToken]);

  before(async () => {
    dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'operator-view-'));
    backend = await makeBackend('sqlite', dir);
    opened.push(() => backend.cleanup());
    server = await startServer(backend);
    opened.push(() => server.stop());
    adminToken = await createToken(backend, 'admin');
    await createUser(backend, ADMIN, 'admin', PASSWORD);
    await declareFleet(backend, 'default', 'op', 2);
    const activated = await asAdmin<{ agents: Record<string, { id: string }> }>('POST', '/activate?cacheCheck=false', {
      agents: { [WEB]: PATH_A, [IDLE]: PATH_B },
    });
    assert.equal(activated.status, 201, JSON.stringify(activated.json));
    succeededId = activated.json.agents[WEB]?.id ?? '';
    pendingId = activated.json.agents[IDLE]?.id ?? '';
    const agent = await asAdmin<{ id: string }>('GET', `/agents/${WEB}`);
    const database = await openDatabase(databaseOptions(backend));
    try {
      assert.ok(await markStarted(database.db, agent.json.id, succeededId, STARTED));
      const lines: LogLine[] = LOG.map((text, seq) => ({ seq, time: STARTED, stream: 'stdout', text }));
      assert.ok(await appendLog(database.db, agent.json.id, succeededId, lines, Number.MAX_SAFE_INTEGER));
      const done = { type: 'deployment.finished', id: succeededId, time: FINISHED, status: 'Succeeded', reason: null, activePath: PATH_A } as const;
      assert.equal(await markFinished(database.db, agent.json.id, done), 'recorded');
    } finally {
      await database.close();
    }
    browser = await launchBrowser();
    opened.push(() => browser.close().catch(() => {}));
  });
  after(async () => {
    for (const u of users) await u.close();
    for (const close of opened.reverse()) await close();
    if (!process.env['DROVER_TEST_KEEP']) await rm(dir, { recursive: true, force: true });
  });

  const openDeployment = async (page: Page, id: string) => {
    await page.goto(`/w/default/deployments/${id}`);
    await page.getByTestId('log').locator('.log-line[data-seq="3"]').waitFor();
  };

  test('ANSI colours render as styled spans: no escape codes, no markup from the text', async () => {
    const u = await openUser('tokyo', { timezoneId: 'Asia/Tokyo' });
    await openDeployment(u.page, succeededId);
    const log = u.page.getByTestId('log');
    const texts = await log.locator('.log-text').allTextContents();
    assert.deepEqual(texts, PLAIN);
    const html = await log.innerHTML();
    assert.ok(!html.includes('\x1b') && !html.includes('[1;31m') && !html.includes('window title'), html);
    assert.equal(await log.locator('b').count(), 0, 'the <b> of the text is text');
    const styleOf = (text: string) =>
      log
        .locator('span.ansi', { hasText: text })
        .first()
        .evaluate((el) => {
          const style = (globalThis as unknown as InPage).getComputedStyle(el);
          return { color: style.color, weight: style.fontWeight };
        });
    const error = await styleOf('error:');
    assert.equal(error.color, 'rgb(244, 112, 103)', 'palette red (--ansi-1)');
    assert.equal(error.weight, '700');
    assert.equal((await styleOf('orange')).color, 'rgb(255, 135, 0)', '256-colour 208');
    assert.equal((await styleOf('truecolor')).color, 'rgb(0, 128, 255)');
    assert.equal((await styleOf('green')).color, 'rgb(87, 199, 133)', 'palette green (--ansi-2)');
    assert.equal(await log.locator('.log-line[data-seq="2"] span.ansi').count(), 0, 'a line without SGR is plain text');
    await u.shoot('log-ansi');
    assert.deepEqual(u.pageErrors, []);
  });

  for (const [zone, date, clock, label] of [
    ['Asia/Tokyo', '2026-01-15', '12:04:05', 'GMT+9'],
    ['America/New_York', '2026-01-14', '22:04:05', 'EST'],
  ] as const) {
    test(`times in the browser's zone ${zone}: date and zone label on the page, the log's clock in that zone`, async () => {
      // Tokyo's page was opened by the test before.
      const u = zone === 'Asia/Tokyo' ? users[0]! : await openUser('new-york', { timezoneId: zone });
      await openDeployment(u.page, succeededId);
      const started = u.page.locator('.fact', { hasText: 'Started' }).getByTestId('exact-time');
      assert.match((await started.textContent()) ?? '', new RegExp(`^${date} ${clock} ${label.replace('+', '\\+')} \\(`));
      const time = u.page.getByTestId('log').locator('.log-line[data-seq="0"] .log-time');
      assert.equal(await time.textContent(), clock);
      assert.equal(await time.getAttribute('title'), `${date} ${clock} ${label}`);
      await u.shoot(`times-${zone.replace('/', '-')}`);
    });
  }

  test('a sub-second duration is shown in milliseconds, on the page and in the list', async () => {
    const u = users[0]!;
    await openDeployment(u.page, succeededId);
    assert.equal(await u.page.locator('.fact', { hasText: 'Duration' }).locator('dd').textContent(), '340ms');
    await u.page.goto('/w/default/deployments');
    await u.page.locator(`tr[data-deployment="${succeededId}"] td.num`).first().filter({ hasText: '340ms' }).waitFor();
  });

  test('page titles name the page and its status', async () => {
    const u = users[0]!;
    await openDeployment(u.page, succeededId);
    await waitFor('the deployment title', async () => (await u.page.title()) === `${WEB} #1 · Succeeded — Deployment — Drover`, 5000);
    await u.page.goto('/w/default/deployments');
    await waitFor('the list title', async () => (await u.page.title()) === 'Deployments — default — Drover', 5000);
    await u.page.goto(`/w/default/agents/${WEB}`);
    await waitFor('the agent title', async () => (await u.page.title()) === `${WEB} · offline — Agent — Drover`, 5000);
  });

  test('Cancel, Re-run and Re-deploy ask first; Keep does nothing', async () => {
    const p = users[0]!.page;
    const status = async (id: string) => (await asAdmin<Deployment>('GET', `/deployments/${id}`)).json.status;
    await p.goto(`/w/default/deployments/${pendingId}`);
    await p.getByRole('button', { name: 'Cancel', exact: true }).click();
    await p.getByRole('button', { name: 'Keep' }).click();
    assert.equal(await status(pendingId), 'Pending', 'the first click only asks');
    await p.getByRole('button', { name: 'Cancel', exact: true }).click();
    await users[0]!.shoot('confirm-cancel');
    await p.getByRole('button', { name: 'Cancel it now' }).click();
    await p.locator('h1 [data-status="Cancelled"]').waitFor();
    assert.equal(await status(pendingId), 'Cancelled');

    await p.getByRole('button', { name: 'Re-run', exact: true }).click();
    assert.ok(p.url().endsWith(pendingId), 'still on the page: Re-run asked first');
    await p.getByRole('button', { name: `Re-run on ${IDLE} now` }).click();
    await p.waitForURL((url) => /\/deployments\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(pendingId));
    rerunId = p.url().split('/').pop() ?? '';

    await p.goto(`/w/default/agents/${WEB}`);
    await p.getByRole('button', { name: 'Re-deploy current path' }).click();
    const before = (await asAdmin<{ total: number }>('GET', `/deployments?agent=${WEB}`)).json.total;
    assert.equal(before, 1, 'the first click only asks');
    await p.getByRole('button', { name: `Re-deploy to ${WEB} now` }).click();
    await p.waitForURL((url) => /\/deployments\/[0-9a-f-]{36}$/.test(url.pathname));
    assert.equal((await asAdmin<{ total: number }>('GET', `/deployments?agent=${WEB}`)).json.total, 2);
  });

  test('the deployments list filters by part of the agent name and of the store path', async () => {
    const p = users[0]!.page;
    await p.goto('/w/default/deployments');
    const rows = p.locator('tr[data-deployment]');
    await rows.first().waitFor();
    await p.getByRole('searchbox', { name: 'Agent' }).fill('00001');
    await p.getByRole('button', { name: 'Filter' }).click();
    await waitFor(
      'only op-00001 rows',
      async () => (await rows.count()) === 2 && (await p.locator('tr[data-deployment]', { hasText: WEB }).count()) === 0,
      5000,
    );
    await p.getByRole('searchbox', { name: 'Agent' }).fill('');
    await p.getByRole('searchbox', { name: 'Store path' }).fill('ANSI-demo');
    await p.getByRole('button', { name: 'Filter' }).click();
    await waitFor(
      'only the ansi-demo path',
      async () => (await rows.count()) === 2 && (await p.locator('tr[data-deployment]', { hasText: IDLE }).count()) === 0,
      5000,
    );
    assert.match(p.url(), /path=ANSI-demo/);
    await users[0]!.shoot('deployments-filtered');
  });

  test('the dark theme: dark surfaces, light text, contrast at least 4.5:1 (7:1 for body text)', async () => {
    const [light, dark] = [await openUser('light', { colorScheme: 'light' }), await openUser('dark', { colorScheme: 'dark' })];
    const colours = async (u: UiUser) => {
      await openDeployment(u.page, succeededId);
      const css = (selector: string, prop: 'color' | 'backgroundColor') =>
        u.page
          .locator(selector)
          .first()
          .evaluate((el, p) => (globalThis as unknown as InPage).getComputedStyle(el)[p], prop);
      return {
        bg: await css('html', 'backgroundColor'),
        text: await css('h1', 'color'),
        surface: await css('.facts', 'backgroundColor'),
        muted: await css('.facts dt', 'color'),
        link: await css('.facts a', 'color'),
      };
    };
    const l = await colours(light);
    const d = await colours(dark);
    assert.equal(l.bg, 'rgb(246, 247, 249)');
    assert.equal(d.bg, 'rgb(15, 20, 26)');
    assert.ok(contrast(d.text, d.bg) >= 7, `text ${d.text} on ${d.bg}`);
    assert.ok(contrast(d.muted, d.surface) >= 4.5, `muted ${d.muted} on ${d.surface}`);
    assert.ok(contrast(d.link, d.surface) >= 4.5, `link ${d.link} on ${d.surface}`);
    assert.ok(contrast(l.muted, l.surface) >= 4.5, `light muted ${l.muted} on ${l.surface}`);
    await light.shoot('theme-light');
    await dark.shoot('theme-dark');
    await dark.page.goto('/w/default/deployments');
    await dark.page.locator('tr[data-deployment]').first().waitFor();
    await dark.shoot('theme-dark-deployments');
    assert.deepEqual(dark.pageErrors, []);
  });

  test('`drover logs`: plain text when piped, --json lines without escape codes, --follow to the end with the exit status', async () => {
    const plain = await cli(['logs', succeededId]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(plain.stdout.trimEnd().split('\n'), PLAIN);
    assert.ok(!plain.stdout.includes('\x1b'));

    const json = await cli(['logs', succeededId, '--json']);
    assert.equal(json.code, 0, json.stderr);
    const lines = json.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; time: string; stream: string; text: string });
    assert.deepEqual(
      lines.map((l) => [l.seq, l.time, l.stream, l.text]),
      PLAIN.map((text, seq) => [seq, STARTED, 'stdout', text]),
    );

    const followed = await cli(['logs', succeededId, '--follow']);
    assert.equal(followed.code, 0, followed.stderr);
    assert.deepEqual(followed.stdout.trimEnd().split('\n'), PLAIN);
    assert.match(followed.stderr, /Succeeded/);
    const cancelled = await cli(['logs', pendingId, '--follow']);
    assert.equal(cancelled.code, 1, 'a Cancelled deployment: exit 1');
    assert.equal(cancelled.stdout, '');

    // --follow waits while the deployment is not final and ends with it.
    const following = spawnDrover('logs', ['logs', rerunId, '--follow', '--server', server.url, '--token', adminToken]);
    opened.push(() => following.stop());
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok(following.running, `still following a Pending deployment: ${following.output}`);
    assert.equal((await asAdmin('POST', `/deployments/${rerunId}/cancel`)).status, 200);
    assert.equal(await following.exited, 1, following.output);
    assert.match(following.output, /Cancelled/);

    const missing = await cli(['logs', '00000000-0000-4000-8000-000000000000']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
  });

  test('`drover deployments --agent PART --path PART`', async () => {
    const agents = async (args: string[]) => {
      const r = await cli(['deployments', ...args, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as Deployment[]).map((d) => d.agent).sort();
    };
    assert.deepEqual(await agents(['--agent', '00001']), [IDLE, IDLE]);
    assert.deepEqual(await agents(['--path', 'ansi-demo']), [WEB, WEB]);
    assert.deepEqual(await agents(['--agent', 'op-', '--path', 'idle']), [IDLE, IDLE]);
    assert.deepEqual(await agents(['--agent', 'nobody']), []);
    const text = await cli(['deployments', '--agent', 'nobody']);
    assert.match(text.stdout, /no deployment matches these filters/);
  });
});
