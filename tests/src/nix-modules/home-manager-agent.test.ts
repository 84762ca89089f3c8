/**
 * nix/modules/home-manager/agent.nix evaluated inside Home Manager's real
 * module set (the unpacked tree): the systemd user unit it yields on Linux
 * (every option its own ExecStart word — Home Manager's own cachix-agent
 * passes "--host URL" as one) and the launchd agent plist on Darwin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalModuleHarness, nixValue } from '@drover/test-support';
import { AWKWARD_ARG, execStartWords, fakeDrover, shellWords, unitValue, withModuleTrees } from './support.js';

const DROVER = '/nix/store/00000000000000000000000000000000-drover/bin/drover';

interface HomeEvaluation {
  readonly failedAssertions: string[];
  readonly units: Record<string, string>;
  readonly launchdAgents: Record<string, { readonly domain: string; readonly config: { readonly ProgramArguments: string[] } & Record<string, unknown> }>;
  readonly plists: Record<string, string>;
}

function home(config: string, system = 'x86_64-linux'): Promise<HomeEvaluation> {
  return evalModuleHarness('home-manager', `{ pkgs, ... }: { ${config} }`, { system }) as Promise<HomeEvaluation>;
}

const agent = `enable = true; name = "laptop"; server = "https://drover.example.com"; tokenFile = "/home/alice/.config/drover/token"; package = ${fakeDrover()};`;
const words = (profile: string) => [
  DROVER,
  'agent',
  'laptop',
  '--server',
  'https://drover.example.com',
  '--profile',
  profile,
  '--token-file',
  '/home/alice/.config/drover/token',
];

withModuleTrees('Home Manager agent module', () => {
  test('Linux: a systemd user service, each option its own ExecStart word, profile home-manager, always restarted', async () => {
    const evaluation = await home(`services.drover-agent = { ${agent} extraArgs = [ "--log-level" ${nixValue(AWKWARD_ARG)} ]; };`);
    assert.deepEqual(evaluation.failedAssertions, []);
    assert.deepEqual(Object.keys(evaluation.units), ['drover-agent.service']);
    const text = evaluation.units['drover-agent.service'] ?? '';
    assert.deepEqual(execStartWords(unitValue(text, 'Service', 'ExecStart')), [
      ...words('/home/alice/.local/state/nix/profiles/home-manager'),
      '--log-level',
      AWKWARD_ARG,
    ]);
    assert.equal(unitValue(text, 'Service', 'Restart'), 'always');
    assert.equal(unitValue(text, 'Service', 'KillMode'), 'process');
    assert.equal(unitValue(text, 'Unit', 'X-SwitchMethod'), 'restart');
    assert.equal(unitValue(text, 'Install', 'WantedBy'), 'default.target');
    assert.match(unitValue(text, 'Service', 'Environment'), /^PATH=\/nix\/store\/[^/]+-nix\/bin$/);
    assert.deepEqual(evaluation.plists, {});
  });

  test('Linux: instances are more user services; an absolute profile is kept as it is', async () => {
    const evaluation = await home(
      `services.drover-agent = { ${agent} instances.dev = { name = "laptop-dev"; profile = "/home/alice/profiles/dev"; tokenFile = "/t"; }; };`,
    );
    assert.deepEqual(Object.keys(evaluation.units).sort(), ['drover-agent-dev.service', 'drover-agent.service']);
    assert.deepEqual(execStartWords(unitValue(evaluation.units['drover-agent-dev.service'] ?? '', 'Service', 'ExecStart')).slice(1), [
      'agent',
      'laptop-dev',
      '--server',
      'https://drover.example.com',
      '--profile',
      '/home/alice/profiles/dev',
      '--token-file',
      '/t',
    ]);
  });

  test('Darwin: a launchd agent in the user domain, kept alive, its runner left alone; the plist hands the agent each word', async () => {
    const evaluation = await home(`services.drover-agent = { ${agent} extraArgs = [ ${nixValue(AWKWARD_ARG)} ]; };`, 'aarch64-darwin');
    assert.deepEqual(evaluation.failedAssertions, []);
    assert.deepEqual(evaluation.units, {});
    const job = evaluation.launchdAgents['drover-agent'];
    assert.equal(job?.domain, 'user');
    assert.deepEqual(job.config.ProgramArguments, [...words('/Users/alice/.local/state/nix/profiles/home-manager'), AWKWARD_ARG]);
    for (const key of ['KeepAlive', 'RunAtLoad', 'AbandonProcessGroup']) assert.equal(job.config[key], true, key);
    // The plist Home Manager links into ~/Library/LaunchAgents runs it through /bin/sh -c: a real sh gets the same words back.
    const plist = evaluation.plists['org.nix-community.home.drover-agent.plist'] ?? assert.fail('no plist');
    const command = /<string>\/bin\/wait4path \/nix\/store &amp;&amp; exec (.*)<\/string>/.exec(plist)?.[1] ?? assert.fail(`no wait4path command in\n${plist}`);
    const unescaped = command.replaceAll('&apos;', "'").replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
    assert.deepEqual(await shellWords(unescaped, DROVER), job.config.ProgramArguments);
  });
});
