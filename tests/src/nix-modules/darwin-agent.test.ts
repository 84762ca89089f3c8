/**
 * nix/modules/darwin/agent.nix evaluated inside nix-darwin's real module
 * set (the unpacked tree's eval-config.nix): the launchd daemons it yields,
 * their plists as nix-darwin writes them, and the words a real /bin/sh
 * hands the agent from the daemon's command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalModuleHarness, nixValue } from '@drover/test-support';
import { AWKWARD_ARG, fakeDrover, shellWords, withModuleTrees } from './support.js';

const DROVER = '/nix/store/00000000000000000000000000000000-drover/bin/drover';

interface Daemon {
  readonly label: string;
  readonly plist: string;
  readonly serviceConfig: {
    readonly ProgramArguments: string[];
    readonly KeepAlive: boolean;
    readonly RunAtLoad: boolean;
    readonly AbandonProcessGroup: boolean;
  } & Record<string, unknown>;
}
interface DarwinEvaluation {
  readonly failedAssertions: string[];
  readonly daemons: Record<string, Daemon>;
}

function darwin(config: string): Promise<DarwinEvaluation> {
  return evalModuleHarness('darwin', `{ pkgs, ... }: { ${config} }`) as Promise<DarwinEvaluation>;
}

const agent = `enable = true; server = "https://drover.example.com"; tokenFile = "/var/root/drover token"; package = ${fakeDrover()};`;

/** The agent's argv from a daemon's `/bin/sh -c "/bin/wait4path /nix/store && exec …"`. */
async function agentWords(daemon: Daemon | undefined): Promise<string[]> {
  const [sh, dashC, command = ''] = daemon?.serviceConfig.ProgramArguments ?? [];
  assert.deepEqual([sh, dashC], ['/bin/sh', '-c']);
  const prefix = '/bin/wait4path /nix/store && exec ';
  assert.ok(command.startsWith(prefix), `waits for the store first: ${command}`);
  return shellWords(command.slice(prefix.length), DROVER);
}

withModuleTrees('nix-darwin agent module', () => {
  test('a launchd daemon: every argv word as given, restarted whenever it exits, its runner left alive, profile system', async () => {
    const evaluation = await darwin(
      `networking.hostName = "mac-1"; services.drover-agent = { ${agent} extraArgs = [ "--log-level" ${nixValue(AWKWARD_ARG)} ]; };`,
    );
    assert.deepEqual(evaluation.failedAssertions, []);
    assert.deepEqual(Object.keys(evaluation.daemons), ['drover-agent']);
    const daemon = evaluation.daemons['drover-agent'] ?? assert.fail('no drover-agent daemon');
    assert.deepEqual(await agentWords(daemon), [
      DROVER,
      'agent',
      'mac-1',
      '--server',
      'https://drover.example.com',
      '--profile',
      'system',
      '--token-file',
      '/var/root/drover token',
      '--log-level',
      AWKWARD_ARG,
    ]);
    assert.equal(daemon.label, 'org.nixos.drover-agent');
    assert.equal(daemon.serviceConfig.KeepAlive, true);
    assert.equal(daemon.serviceConfig.RunAtLoad, true);
    assert.equal(daemon.serviceConfig.AbandonProcessGroup, true);
    // The plist nix-darwin writes to /Library/LaunchDaemons says the same.
    for (const key of ['KeepAlive', 'RunAtLoad', 'AbandonProcessGroup']) assert.match(daemon.plist, new RegExp(`<key>${key}</key>\\n\\t<true/>`));
    assert.match(daemon.plist, /<key>Label<\/key>\n\t<string>org\.nixos\.drover-agent<\/string>/);
  });

  test('each instance is one more daemon owning its own profile', async () => {
    const evaluation = await darwin(
      `services.drover-agent = { ${agent} name = "mac-1"; instances.app = { profile = "/nix/var/nix/profiles/app"; tokenFile = "/var/root/app.token"; }; };`,
    );
    assert.deepEqual(Object.keys(evaluation.daemons).sort(), ['drover-agent', 'drover-agent-app']);
    assert.equal(evaluation.daemons['drover-agent-app']?.label, 'org.nixos.drover-agent-app');
    assert.deepEqual((await agentWords(evaluation.daemons['drover-agent-app'])).slice(1), [
      'agent',
      'app',
      '--server',
      'https://drover.example.com',
      '--profile',
      '/nix/var/nix/profiles/app',
      '--token-file',
      '/var/root/app.token',
    ]);
  });

  test('without networking.hostName the agent needs a name, and says so', async () => {
    await assert.rejects(darwin(`services.drover-agent = { ${agent} };`), /services\.drover-agent\.name: set it, or networking\.hostName/);
  });
});
