/**
 * One machine for the real-systemd tests: a systemd-nspawn container
 * (support/nspawn.ts) running `drover-agent.service` exactly as the NixOS
 * module yields it (renderNixosAgentUnit), plus an optional drop-in, against
 * the test's server on the host's 127.0.0.1.
 *
 * Nix inside: the container runs Debian's own nix-bin (installed in the root
 * filesystem; the same release as the host's, so the same Nix 2.8 and store
 * schema) on the host's /nix, bind-mounted read-write, with the host's
 * /etc/nix read-only. The runner substitutes into the real store and
 * registers the paths in the real database, as on a real machine; the
 * tests hold /work/wt/nix.lock (scripts/test.sh runs one suite at a time)
 * so no other Nix writes at once. The container's profile directory
 * /nix/var/nix/profiles and the agent's /var/lib/drover-agent are
 * directories of the test, so `--profile system` switches the test's own
 * profile and the host reads the journal and the profile directly.
 *
 * Node is the host's (Debian 12's own is 18), bind-mounted at /usr/bin/node,
 * on the unit's PATH; the checkout is mounted read-only at its own path and
 * is the package the unit runs (`bin/drover`).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderNixosAgentUnit, repoRoot, waitFor } from '@drover/test-support';
import { createToken, randomName } from '../support/drover.js';
import { Container } from '../support/nspawn.js';
import type { World } from '../e2e/harness.js';

export const AGENT_UNIT = 'drover-agent.service';
const TOKEN_FILE = '/etc/drover/agent.token';
/** Where the unit's PATH packages are on Debian (nixpkgs attribute → prefix). */
const DEBIAN_PACKAGES = { nix: '/usr', systemd: '/usr', coreutils: '/usr', findutils: '/usr', gnugrep: '/usr', gnused: '/usr' };

export class AgentMachine {
  private constructor(
    readonly name: string,
    readonly container: Container,
    /** The host directory that is the container's /nix/var/nix/profiles. */
    readonly profiles: string,
    /** The host directory that is the container's /var/lib/drover-agent. */
    private readonly stateRoot: string,
  ) {}

  /**
   * Boots a container with the agent's unit installed and started, and
   * waits until the agent is registered. `dropIn` is the text of a drop-in
   * for the unit (e.g. `[Service]\nKillMode=control-group`).
   */
  static async start(world: World, rootfs: string, opts: { dropIn?: string } = {}): Promise<AgentMachine> {
    const name = randomName('sysd');
    const home = join(world.dir, name);
    const profiles = join(home, 'profiles');
    const stateRoot = join(home, 'state');
    mkdirSync(profiles, { recursive: true });
    mkdirSync(stateRoot, { recursive: true });
    const units = await renderNixosAgentUnit({
      server: world.server.url,
      tokenFile: TOKEN_FILE,
      package: { path: repoRoot(), mainProgram: 'drover' },
      name,
      packages: DEBIAN_PACKAGES,
    });
    const unit = units.find((u) => u.unitName === AGENT_UNIT);
    if (!unit) throw new Error(`the NixOS module yielded no ${AGENT_UNIT}: ${units.map((u) => u.unitName).join(', ')}`);
    const token = await createToken(world.backend, 'agent', ['--agent', name, '--description', 'real-systemd tests']);
    const container = await Container.boot({
      rootfs,
      lifetimeMs: 10 * 60_000,
      binds: [
        { source: '/nix' },
        { source: '/etc/nix', readOnly: true },
        { source: process.execPath, target: '/usr/bin/node', readOnly: true },
        { source: repoRoot(), readOnly: true },
        { source: world.dir },
        { source: profiles, target: '/nix/var/nix/profiles' },
        { source: stateRoot, target: '/var/lib/drover-agent' },
      ],
    });
    const machine = new AgentMachine(name, container, profiles, stateRoot);
    try {
      await container.writeFile(TOKEN_FILE, token, '0600');
      await container.writeFile(`/etc/systemd/system/${AGENT_UNIT}`, unit.text);
      if (opts.dropIn !== undefined) await container.writeFile(`/etc/systemd/system/${AGENT_UNIT}.d/test.conf`, opts.dropIn);
      await container.execOk(['systemctl', 'daemon-reload']);
      await container.execOk(['systemctl', 'start', AGENT_UNIT]);
      await machine.waitForJournal(/registered with the server/, 30_000);
    } catch (err) {
      const journal = await container.journal(AGENT_UNIT).catch(() => '');
      await container.halt();
      throw new Error(`${(err as Error).message}\n${AGENT_UNIT} journal:\n${journal}`, { cause: err });
    }
    return machine;
  }

  /** The `system` profile as the host sees it. */
  get profile(): string {
    return join(this.profiles, 'system');
  }

  /** The profile's lock file (runner/lock.ts). */
  get lockFile(): string {
    return `${this.profile}.drover-lock`;
  }

  /** A deployment's journal (events.ndjson) as the host sees it, '' until it exists. */
  journalOf(id: string): string {
    const file = join(this.stateRoot, this.name, 'deployments', id, 'events.ndjson');
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  }

  async unit(property: string): Promise<string> {
    return this.container.unitProperty(AGENT_UNIT, property);
  }

  async waitForJournal(pattern: RegExp, timeoutMs: number): Promise<string> {
    return waitFor(`${AGENT_UNIT}'s journal to show ${pattern}`, async () => pattern.exec(await this.container.journal(AGENT_UNIT))?.[0], timeoutMs, 250);
  }

  /** Waits until systemd knows no drover-deployment-*.scope unit any more (a scope is collected once its runner exited). */
  async waitForNoRunnerScope(timeoutMs = 10_000): Promise<void> {
    let left: string[] = [];
    const list = async () => {
      const out = await this.container.execOk(['systemctl', 'list-units', '--all', '--plain', '--no-legend', 'drover-deployment-*']);
      left = out.split('\n').filter(Boolean);
      return left.length === 0;
    };
    await waitFor('the runner scopes to be collected', list, timeoutMs, 250).catch((err: unknown) => {
      throw new Error(`runner scopes left: ${left.join('; ')}`, { cause: err });
    });
  }

  async stop(): Promise<void> {
    await this.container.halt();
  }
}
