/**
 * What the browser tests add to the end-to-end harness: Debian's Chromium
 * driven headless by playwright-core, a signed-in page per user, users made
 * with `drover user create`, and screenshots of each page at desktop and
 * phone width under $DROVER_TEST_OUTPUT/screenshots/.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { drover, type Backend } from '../support/drover.js';
import { repoRoot } from '../support/nix.js';

const CHROMIUM = process.env['DROVER_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 800 } as const;
const PHONE = { width: 390, height: 844 } as const;

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export type UserRole = 'admin' | 'deployer' | 'viewer';

/** `drover user create` against the backend, with the password on stdin. */
export async function createUser(backend: Backend, name: string, role: UserRole, password: string, workspace?: string): Promise<void> {
  const args = ['user', 'create', name, '--role', role, ...(workspace ? ['--workspace', workspace] : []), '--password-stdin', ...backend.flags];
  const r = await drover(args, {}, `${password}\n`);
  if (r.code !== 0) throw new Error(`drover ${args.join(' ')} failed (${r.code}): ${r.stdout}${r.stderr}`);
}

/** One browser context (its own cookies) with one page, for one user. */
export class UiUser {
  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    readonly baseUrl: string,
    private readonly shotPrefix: string,
    /** Console errors and failed page scripts, for the test to assert there were none. */
    readonly pageErrors: string[],
  ) {}

  /** `options`: more of the context's settings, e.g. its timezoneId or colorScheme. */
  static async open(browser: Browser, baseUrl: string, shotPrefix: string, options: BrowserContextOptions = {}): Promise<UiUser> {
    const context = await browser.newContext({ viewport: { ...DESKTOP }, baseURL: baseUrl, ...options });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) errors.push(`console: ${m.text()}`);
    });
    return new UiUser(context, page, baseUrl, shotPrefix, errors);
  }

  /** Signs in through the form and waits to leave the sign-in page. */
  async signIn(name: string, password: string): Promise<void> {
    const page = this.page;
    if (!page.url().includes('/login')) await page.goto('/login');
    await page.getByLabel('User name').fill(name);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname !== '/login');
  }

  /** The session's CSRF token, as the UI itself reads it. */
  async csrfToken(): Promise<string> {
    const r = await this.fetchJson('GET', '/api/v1/session');
    return (r.json as { csrfToken: string }).csrfToken;
  }

  /** fetch() run inside the page (same origin, the session cookie), as the UI's own requests are. */
  async fetchJson(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown }> {
    return this.page.evaluate(
      async ({ method, path, body, headers }) => {
        const res = await fetch(path, {
          method,
          credentials: 'same-origin',
          headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await res.text();
        return { status: res.status, json: text ? (JSON.parse(text) as unknown) : null };
      },
      { method, path, body, headers },
    );
  }

  /** Marks the document; `stillSameDocument` is false once the page has reloaded or navigated away. */
  async markDocument(): Promise<void> {
    await this.page.evaluate(() => ((globalThis as unknown as { __droverMark: boolean }).__droverMark = true));
  }

  stillSameDocument(): Promise<boolean> {
    return this.page.evaluate(() => (globalThis as unknown as { __droverMark?: boolean }).__droverMark === true);
  }

  /** Screenshots of the page as it is now, at 1280×800 and at 390×844 (full page). */
  async shoot(name: string): Promise<void> {
    const dir = join(process.env['DROVER_TEST_OUTPUT'] ?? join(repoRoot(), 'test-output'), 'screenshots');
    await mkdir(dir, { recursive: true });
    const page = this.page;
    await page.screenshot({ path: join(dir, `${this.shotPrefix}-${name}-desktop.png`), fullPage: true });
    await page.setViewportSize({ ...PHONE });
    await page.waitForTimeout(100);
    await page.screenshot({ path: join(dir, `${this.shotPrefix}-${name}-phone.png`), fullPage: true });
    await page.setViewportSize({ ...DESKTOP });
  }

  async close(): Promise<void> {
    await this.context.close().catch(() => {});
  }
}
