/**
 * The world one end-to-end suite runs in: fixture closures built with real
 * Nix, pushed to a signed binary cache on 127.0.0.1 and removed from the
 * local store; a `drover server` on SQLite or PostgreSQL with tokens and the
 * workspace cache set; helpers to start agents and run `drover activate`.
 */
import { mkdir, mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import type { Deployment } from '@drover/protocol';
import { Teardown } from '@drover/test-support';
import { buildFixtures, deleteFromStore, repoRoot, run, startTestCache, type Fixtures, type TestCache } from '../support/nix.js';
import {
  api,
  createToken,
  drover,
  makeBackend,
  randomName,
  startAgent,
  startServer,
  waitFor,
  type Backend,
  type BackendKind,
  type DroverProcess,
  type ServerHandle,
} from '../support/drover.js';

export interface TestAgent {
  readonly name: string;
  readonly profile: string;
  readonly stateDir: string;
  proc: DroverProcess;
  restart(): Promise<void>;
}

/** GET /api/v1/health on a new TCP connection each time, so the cluster hands it to the next worker. */
export function freshHealth(server: string): Promise<{ replica: string; agentsConnected: number }> {
  return new Promise((resolve, reject) => {
    const req = get(`${server}/api/v1/health`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(JSON.parse(body) as { replica: string; agentsConnected: number }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('health request timed out')));
  });
}

export class World {
  fixtures!: Fixtures;
  cache!: TestCache;
  backend!: Backend;
  server!: ServerHandle;
  activateToken!: string;
  adminToken!: string;
  dir!: string;
  private readonly procs: DroverProcess[] = [];
  /** What setUp created and tests added with onTearDown, undone last first (agents are stopped before it). */
  private readonly teardown = new Teardown();

  constructor(
    readonly kind: BackendKind,
    private readonly serverArgs: readonly string[] = [],
  ) {}

  async setUp(): Promise<void> {
    const base = process.env['DROVER_TEST_OUTPUT'] ?? tmpdir();
    await mkdir(base, { recursive: true });
    this.dir = await mkdtemp(join(base, `e2e-${this.kind}-`));
    if (!process.env['DROVER_TEST_KEEP']) this.teardown.add(() => rm(this.dir, { recursive: true, force: true }));
    this.fixtures = await buildFixtures({ markerDir: join(this.dir, 'markers'), salt: randomBytes(8).toString('hex'), slowSeconds: 6 });
    this.cache = await startTestCache({ keyName: `e2e-${this.kind}` });
    this.teardown.add(() => this.cache.close());
    const f = this.fixtures;
    const all = [f.nixos, f.nixos_b, f.nixos_failing, f.nixos_slow, f.darwin, f.home_manager, f.plain, f.rollback_ok, f.rollback_fail];
    await this.cache.push(all);
    await deleteFromStore(all);
    this.backend = await makeBackend(this.kind, this.dir);
    this.teardown.add(() => this.backend.cleanup());
    this.server = await startServer(this.backend, this.serverArgs);
    this.teardown.add(() => this.server.stop());
    this.activateToken = await createToken(this.backend, 'activate');
    this.adminToken = await createToken(this.backend, 'admin');
    const r = await drover(['workspace', 'cache', 'default', '--substituter', this.cache.url, '--public-key', this.cache.publicKey, ...this.backend.flags]);
    if (r.code !== 0) throw new Error(`workspace cache failed: ${r.stderr}`);
  }

  async tearDown(): Promise<void> {
    for (const p of this.procs) await p.stop('SIGKILL').catch(() => {});
    await this.teardown.run().catch(() => {});
  }

  onTearDown(fn: () => Promise<void>): void {
    this.teardown.add(fn);
  }

  track(proc: DroverProcess): DroverProcess {
    this.procs.push(proc);
    return proc;
  }

  /** A new agent with its own profile and state directory. */
  async agent(
    opts: { name?: string; token?: string; server?: string; waitRegistered?: boolean; extraArgs?: string[]; env?: NodeJS.ProcessEnv; script?: string } = {},
  ): Promise<TestAgent> {
    const name = opts.name ?? randomName('agent');
    const home = join(this.dir, 'agents', name);
    const spec = {
      server: opts.server ?? this.server.url,
      // Agent tokens are bound to their agent (issue 12 §17): one per agent.
      token: opts.token ?? (await createToken(this.backend, 'agent', ['--agent', name, '--description', 'e2e agents'])),
      profile: join(home, 'profiles', 'system'),
      stateDir: join(home, 'state'),
      ...(opts.extraArgs ? { extraArgs: opts.extraArgs } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.script ? { script: opts.script } : {}),
    };
    const agent: TestAgent = {
      name,
      profile: spec.profile,
      stateDir: spec.stateDir,
      proc: this.track(await startAgent(name, spec, opts.waitRegistered ?? true)),
      restart: async () => {
        await agent.proc.stop();
        agent.proc = this.track(await startAgent(name, spec));
      },
    };
    return agent;
  }

  async specFile(agents: Record<string, string>, rollbackScript?: string): Promise<string> {
    const file = join(this.dir, `deploy-${randomBytes(4).toString('hex')}.json`);
    const spec = { agents, ...(rollbackScript ? { rollbackScript: { 'x86_64-linux': rollbackScript } } : {}) };
    await writeFile(file, JSON.stringify(spec, null, 2) + '\n');
    return file;
  }

  activate(args: readonly string[], token = this.activateToken, server = this.server.url) {
    return drover(['activate', ...args, '--server', server], { DROVER_ACTIVATE_TOKEN: token });
  }

  async deployment(id: string, server = this.server.url): Promise<Deployment> {
    const r = await api<Deployment>(server, this.activateToken, 'GET', `/deployments/${id}`);
    if (r.status !== 200) throw new Error(`GET deployment ${id}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json;
  }

  async waitForStatus(id: string, status: Deployment['status'], timeoutMs = 60_000): Promise<Deployment> {
    return waitFor(
      `deployment ${id} to be ${status}`,
      async () => {
        const d = await this.deployment(id);
        return d.status === status ? d : null;
      },
      timeoutMs,
      200,
    );
  }

  /** Builds one attribute of fixtures.nix built only by name (salted afresh, `args` as --argstr), pushes it to the cache and removes it from the store. */
  async extraFixture(attr: 'nixos_hanging' | 'nixos_checked' | 'nixos_dry' | 'nixos_gated', args: Record<string, string> = {}): Promise<string> {
    const argv = [join(repoRoot(), 'tests', 'fixtures', 'fixtures.nix'), '--no-out-link', '-A', attr];
    argv.push('--argstr', 'salt', randomBytes(8).toString('hex'), '--argstr', 'markerDir', this.fixtures.markerDir);
    for (const [name, value] of Object.entries(args)) argv.push('--argstr', name, value);
    const r = await run('nix-build', argv);
    if (r.code !== 0) throw new Error(`nix-build -A ${attr} failed: ${r.stderr}`);
    const path = r.stdout.trim();
    await this.cache.push([path]);
    await deleteFromStore([path]);
    return path;
  }

  /** The whole stored log, page by page (`next` is the `after` of the following page; an empty page ends it). */
  async logOf(id: string): Promise<{ seq: number; text: string }[]> {
    interface Page {
      lines: { seq: number; text: string }[];
      next: number | null;
    }
    const lines: { seq: number; text: string }[] = [];
    for (let after = -1; ;) {
      const page: Page = (await api<Page>(this.server.url, this.activateToken, 'GET', `/deployments/${id}/log?after=${after}&limit=5000`)).json;
      lines.push(...page.lines);
      if (page.lines.length === 0 || page.next === null) return lines;
      after = page.next;
    }
  }
}

/** The store path a profile points to, or null when it does not exist. */
export async function activePath(profile: string): Promise<string | null> {
  try {
    return await realpath(profile);
  } catch {
    return null;
  }
}

/** The `system-N-link` generations of a profile. */
export async function generations(profile: string): Promise<string[]> {
  const dir = join(profile, '..');
  const base = profile.split('/').pop()!;
  try {
    return (await readdir(dir)).filter((n) => new RegExp(`^${base}-\\d+-link$`).test(n)).sort();
  } catch {
    return [];
  }
}

/** Deployment ids by agent name from activate's `[NAME] URL` lines. */
export function deploymentIds(output: string): Map<string, string> {
  const ids = new Map<string, string>();
  for (const m of output.matchAll(/^\[([^\]]+)\]\s+\S+\/deployments\/([0-9a-f-]{36})$/gm)) ids.set(m[1]!, m[2]!);
  return ids;
}
