/**
 * The deployment page's closure diff, previous deployment and superseded-by
 * links in headless Chromium, against a real `drover server` on SQLite and a
 * real agent deploying two versioned closures built by real Nix
 * (support/versioned-closures.ts) as a plain profile: the second
 * deployment's page shows the summary, the added / removed / changed tables
 * and the size delta, and links to the first; a deployment superseded while
 * its agent was away links to the one that replaced it. Screenshots go to
 * $DROVER_TEST_OUTPUT/screenshots/diff-*. Run under `flock /work/wt/nix.lock`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Deployment } from '@drover/protocol';
import { Teardown } from '@drover/test-support';
import { createToken, drover, makeBackend, startAgent, type DroverProcess, type ServerHandle, startServer } from '../support/drover.js';
import { buildVersionedClosures } from '../support/versioned-closures.js';
import { createUser, launchBrowser, UiUser } from './browser.js';

const teardown = new Teardown();
const password = randomBytes(12).toString('hex');
const agentName = 'diff-web-1';
let dir: string;
let server: ServerHandle;
let activateToken: string;
let browser: Browser;
let user: UiUser;
let agent: DroverProcess | undefined;
const ids = { first: '', second: '', superseded: '', replacing: '' };

async function activate(path: string, ...flags: string[]): Promise<Deployment> {
  const spec = join(dir, `deploy-${randomBytes(4).toString('hex')}.json`);
  await writeFile(spec, JSON.stringify({ agents: { [agentName]: path } }));
  const r = await drover(['activate', spec, '--json', '--no-cache-check', ...flags, '--server', server.url], { DROVER_ACTIVATE_TOKEN: activateToken });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as Deployment[] | { agents: Record<string, { id: string }> };
  if (Array.isArray(out) && out[0]) return out[0];
  if (!Array.isArray(out)) return { id: out.agents[agentName]?.id ?? '' } as Deployment;
  throw new Error(`activate printed ${r.stdout}`);
}

before(async () => {
  dir = await mkdtemp(join(process.env['DROVER_TEST_OUTPUT'] ?? tmpdir(), 'web-diff-'));
  if (!process.env['DROVER_TEST_KEEP']) teardown.add(() => rm(dir, { recursive: true, force: true }));
  const { a, b } = await buildVersionedClosures();
  const backend = await makeBackend('sqlite', dir);
  server = await startServer(backend);
  teardown.add(() => server.stop());
  activateToken = await createToken(backend, 'activate');
  await createUser(backend, 'dora', 'deployer', password);
  const token = await createToken(backend, 'agent', ['--agent', agentName]);
  const home = join(dir, 'agents', agentName);
  agent = await startAgent(agentName, { server: server.url, token, profile: join(home, 'profiles', 'app'), stateDir: join(home, 'state') });
  ids.first = (await activate(a)).id;
  const second = await activate(b);
  assert.equal(second.diff?.source, 'agent', JSON.stringify(second));
  ids.second = second.id;
  // With the agent away, a deployment that never started is superseded by the next one.
  await agent.stop();
  agent = undefined;
  ids.superseded = (await activate(a, '--async')).id;
  ids.replacing = (await activate(b, '--async')).id;
  browser = await launchBrowser();
  teardown.add(() => browser.close());
  user = await UiUser.open(browser, server.url, 'diff');
  teardown.add(() => user.close());
  await user.signIn('dora', password);
});

after(async () => {
  await agent?.stop('SIGKILL').catch(() => {});
  await teardown.run().catch(() => {});
});

test('the deployment page shows what changed, with tables and the size delta, and links to the previous deployment', async () => {
  const page = user.page;
  await page.goto(`/w/default/deployments/${ids.second}`);
  const diff = page.getByTestId('closure-diff');
  await diff.waitFor();
  assert.match((await page.getByTestId('diff-summary').textContent()) ?? '', /^\+1 −1 ~1 packages, [+−][\d.]+ (B|KiB)$/);
  const rows = async (testid: string) => (await page.getByTestId(testid).locator('tbody tr').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
  assert.deepEqual(await rows('diff-added'), ['newlib0.5']);
  assert.deepEqual(await rows('diff-removed'), ['tool3']);
  assert.deepEqual(await rows('diff-changed'), ['app1.0 → 1.1']);
  assert.match((await page.getByTestId('diff-size').textContent()) ?? '', /closure [\d.]+ (B|KiB) → [\d.]+ (B|KiB) \([+−][\d.]+ (B|KiB)\)/);
  assert.match((await diff.textContent()) ?? '', /computed by the agent/);
  await user.shoot('changes');

  const previous = page.getByTestId('previous-deployment');
  assert.match((await previous.textContent()) ?? '', /app-1\.0.*Succeeded/);
  await previous.getByRole('link').click();
  await page.waitForURL((u) => u.pathname.endsWith(`/deployments/${ids.first}`));
  await page.getByTestId('closure-diff').waitFor();
  assert.match((await page.getByTestId('closure-diff').textContent()) ?? '', /Against nothing/);
  assert.match((await page.getByTestId('diff-summary').textContent()) ?? '', /^\+4 −0 ~0 packages/);
  assert.match((await page.getByText(/none: the first deployment/).textContent()) ?? '', /diff-web-1/);
  assert.deepEqual(user.pageErrors, []);
});

test('a Superseded deployment links to the one that replaced it', async () => {
  const page = user.page;
  await page.goto(`/w/default/deployments/${ids.superseded}`);
  await page.locator('h1 [data-status="Superseded"]').waitFor();
  const link = page.getByTestId('superseded-by');
  assert.match((await link.textContent()) ?? '', new RegExp(ids.replacing));
  assert.match((await page.getByTestId('closure-diff').textContent()) ?? '', /No closure diff was computed/);
  await user.shoot('superseded');
  await link.click();
  await page.waitForURL((u) => u.pathname.endsWith(`/deployments/${ids.replacing}`));
  await page.locator('h1 [data-status="Pending"]').waitFor();
  assert.match((await page.getByTestId('closure-diff').textContent()) ?? '', /Not known yet/);
  assert.deepEqual(user.pageErrors, []);
});
