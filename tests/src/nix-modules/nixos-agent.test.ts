/**
 * nix/modules/nixos/agent.nix evaluated with nixpkgs' lib over the NixOS
 * option stub (tests/nix/nixos), asserting on the unit files it yields: the
 * ExecStart words, network-online ordering, the token as a systemd
 * credential, the restart policy, instances, assertions, and
 * drover-checks.json in the system toplevel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalNixosConfig, renderNixosAgentUnit, runOk, type RenderedUnit } from '@drover/test-support';
import { AWKWARD_ARG, execStartWords, fakeDrover, unitValue, withModuleTrees } from './support.js';

const DROVER = '/nix/store/00000000000000000000000000000000-drover';
const base = { server: 'https://drover.example.com', tokenFile: '/run/secrets/drover-agent-token', package: { path: DROVER, mainProgram: 'drover' } };

function unit(units: readonly RenderedUnit[], name: string): string {
  const found = units.find((u) => u.unitName === name);
  assert.ok(found, `no ${name} among ${units.map((u) => u.unitName).join(', ')}`);
  return found.text;
}

withModuleTrees('NixOS agent module', () => {
  test('the unit: every ExecStart word as given, token via LoadCredential only, network-online, always restarted, survives a switch', async () => {
    const units = await renderNixosAgentUnit({ ...base, hostName: 'web-1', extraArgs: ['--log-level', 'debug', AWKWARD_ARG] });
    assert.deepEqual(
      units.map((u) => u.unitName),
      ['drover-agent.service'],
    );
    const text = unit(units, 'drover-agent.service');
    assert.deepEqual(execStartWords(unitValue(text, 'Service', 'ExecStart')), [
      `${DROVER}/bin/drover`,
      'agent',
      'web-1',
      '--server',
      'https://drover.example.com',
      '--profile',
      'system',
      '--state-dir',
      '/var/lib/drover-agent/web-1',
      '--log-level',
      'debug',
      AWKWARD_ARG,
    ]);
    assert.equal(unitValue(text, 'Service', 'LoadCredential'), 'agent-token:/run/secrets/drover-agent-token');
    assert.doesNotMatch(text, /--token-file|DROVER_AGENT_TOKEN/, 'the token reaches the agent only as a credential');
    assert.equal(unitValue(text, 'Unit', 'After'), 'network-online.target');
    assert.equal(unitValue(text, 'Unit', 'Wants'), 'network-online.target');
    assert.equal(unitValue(text, 'Unit', 'X-StopOnRemoval'), 'false');
    assert.equal(unitValue(text, 'Service', 'Restart'), 'always');
    assert.equal(unitValue(text, 'Service', 'KillMode'), 'process');
    assert.equal(unitValue(text, 'Service', 'StateDirectory'), 'drover-agent/web-1');
    // A changed unit is restarted after activation (not stopped before it), and never left on the old version.
    assert.equal(unitValue(text, 'Service', 'X-StopIfChanged'), 'false');
    assert.doesNotMatch(text, /X-RestartIfChanged/);
    assert.deepEqual(units[0]?.wantedBy, ['multi-user.target']);
  });

  test('the whole unit file, as nixpkgs writes it', async () => {
    const [only] = await renderNixosAgentUnit({
      ...base,
      name: 'web-1',
      packages: { nix: '/usr', systemd: '/usr', coreutils: '/usr', findutils: '/usr', gnugrep: '/usr', gnused: '/usr' },
    });
    const path = ['bin', 'sbin'].map((d) => Array(6).fill(`/usr/${d}`).join(':')).join(':');
    assert.equal(
      only?.text,
      [
        '[Unit]',
        'After=network-online.target',
        'Description=Drover agent web-1 (profile system)',
        'Wants=network-online.target',
        'X-StopOnRemoval=false',
        '',
        '[Service]',
        `Environment="PATH=${path}"`,
        'X-StopIfChanged=false',
        `ExecStart="${DROVER}/bin/drover" "agent" "web-1" "--server" "https://drover.example.com" "--profile" "system" "--state-dir" "/var/lib/drover-agent/web-1"`,
        'KillMode=process',
        'LoadCredential=agent-token:/run/secrets/drover-agent-token',
        'Restart=always',
        'RestartPreventExitStatus=78',
        'RestartSec=2',
        'StateDirectory=drover-agent/web-1',
        'StateDirectoryMode=0700',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    );
  });

  test('the name defaults to networking.hostName', async () => {
    const units = await renderNixosAgentUnit({ ...base, hostName: 'db-7' });
    assert.deepEqual(execStartWords(unitValue(unit(units, 'drover-agent.service'), 'Service', 'ExecStart')).slice(1, 3), ['agent', 'db-7']);
  });

  test('each instance is one more unit with its own name, profile, credential and state directory', async () => {
    const units = await renderNixosAgentUnit({
      ...base,
      name: 'web-1',
      instances: {
        app: { name: 'web-1-app', profile: '/nix/var/nix/profiles/per-user/app/app', tokenFile: '/run/secrets/app-token' },
        edge: { profile: 'edge', tokenFile: '/run/secrets/100%-edge', server: 'https://other.example.com' },
      },
    });
    assert.deepEqual(units.map((u) => u.unitName).sort(), ['drover-agent-app.service', 'drover-agent-edge.service', 'drover-agent.service']);
    const app = unit(units, 'drover-agent-app.service');
    assert.deepEqual(execStartWords(unitValue(app, 'Service', 'ExecStart')).slice(1), [
      'agent',
      'web-1-app',
      '--server',
      'https://drover.example.com',
      '--profile',
      '/nix/var/nix/profiles/per-user/app/app',
      '--state-dir',
      '/var/lib/drover-agent/web-1-app',
    ]);
    assert.equal(unitValue(app, 'Service', 'LoadCredential'), 'agent-token:/run/secrets/app-token');
    assert.equal(unitValue(app, 'Service', 'StateDirectory'), 'drover-agent/web-1-app');
    assert.equal(unitValue(app, 'Service', 'Restart'), 'always');
    const edgeUnit = unit(units, 'drover-agent-edge.service');
    assert.equal(unitValue(edgeUnit, 'Service', 'LoadCredential'), 'agent-token:/run/secrets/100%%-edge', 'a specifier-like % in the path is escaped');
    const edge = execStartWords(unitValue(edgeUnit, 'Service', 'ExecStart'));
    assert.deepEqual(edge.slice(1, 7), ['agent', 'edge', '--server', 'https://other.example.com', '--profile', 'edge']);
  });

  test('an invalid name (an empty host name), two agents with one name or one profile, a token file in the store or relative: refused with the reason', async () => {
    await assert.rejects(
      renderNixosAgentUnit({ ...base, hostName: '' }),
      /the agent name "" is invalid: use 1-64 letters, digits, -, _ or \. \(set services\.drover-agent\.name/,
    );
    await assert.rejects(
      renderNixosAgentUnit({ ...base, name: 'web-1', instances: { a: { name: 'web-1', profile: 'other', tokenFile: '/t' } } }),
      /two agents named web-1; every agent \(and every instance\) needs its own name/,
    );
    await assert.rejects(
      renderNixosAgentUnit({ ...base, name: 'web-1', instances: { a: { profile: 'system', tokenFile: '/t' } } }),
      /two agents deploy the profile system/,
    );
    await assert.rejects(
      renderNixosAgentUnit({ ...base, name: 'web-1', tokenFile: '/nix/store/00000000000000000000000000000000-token' }),
      /tokenFile of agent web-1 is "\/nix\/store\/0+-token"; it must be an absolute path outside the Nix store/,
    );
    await assert.rejects(renderNixosAgentUnit({ ...base, name: 'web-1', tokenFile: 'token' }), /tokenFile of agent web-1 is "token"/);
  });

  test('checks are written to drover-checks.json at the root of the system toplevel, in the shared format', async () => {
    const evaluation = await evalNixosConfig(`{ pkgs, ... }: {
      services.drover-agent = {
        enable = true; name = "web-1"; server = "https://d"; tokenFile = "/t"; package = ${fakeDrover()};
        checks = [
          { type = "unit"; unit = "nginx.service"; }
          { type = "no-failed-units"; name = "nothing failed"; }
          { type = "http"; url = "http://127.0.0.1:80/health"; retries = 10; interval = "1s"; timeout = "5s"; }
          { type = "tcp"; host = "127.0.0.1"; port = 22; retries = 0; }
          { type = "command"; argv = [ "/nix/store/00000000000000000000000000000000-check/bin/check" "--quick" ]; }
        ];
      };
    }`);
    assert.deepEqual(evaluation.failedAssertions, []);
    const out = await mkdtemp(join(tmpdir(), 'drover-toplevel-'));
    try {
      await runOk('/bin/sh', ['-c', evaluation.extraSystemBuilderCmds], { env: { out }, timeoutMs: 20_000 });
      assert.deepEqual(JSON.parse(await readFile(join(out, 'drover-checks.json'), 'utf8')), {
        checks: [
          { type: 'unit', unit: 'nginx.service' },
          { type: 'no-failed-units', name: 'nothing failed' },
          { type: 'http', url: 'http://127.0.0.1:80/health', retries: 10, interval: '1s', timeout: '5s' },
          { type: 'tcp', host: '127.0.0.1', port: 22, retries: 0 },
          { type: 'command', argv: ['/nix/store/00000000000000000000000000000000-check/bin/check', '--quick'] },
        ],
      });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test('no checks: no drover-checks.json; a check missing its field or with a foreign one is refused', async () => {
    const agent = `enable = true; name = "web-1"; server = "https://d"; tokenFile = "/t"; package = ${fakeDrover()};`;
    const none = await evalNixosConfig(`{ pkgs, ... }: { services.drover-agent = { ${agent} }; }`);
    assert.equal(none.extraSystemBuilderCmds, '');
    const bad = await evalNixosConfig(
      `{ pkgs, ... }: { services.drover-agent = { ${agent} checks = [ { type = "http"; } { type = "unit"; unit = "a.service"; port = 1; } ]; }; }`,
    );
    assert.deepEqual(bad.failedAssertions, [
      'services.drover-agent.checks, check 1 (type http): needs url.',
      'services.drover-agent.checks, check 2 (type unit): does not take port.',
    ]);
    await assert.rejects(
      evalNixosConfig(`{ pkgs, ... }: { services.drover-agent = { ${agent} checks = [ { type = "ping"; } ]; }; }`),
      /services\.drover-agent\.checks[^\n]*type[\s\S]*is not of type `one of "unit", "no-failed-units", "http", "tcp", "command"'/,
    );
  });

  test('a disabled module yields no unit', async () => {
    const evaluation = await evalNixosConfig(
      `{ pkgs, ... }: { services.drover-agent = { server = "https://d"; tokenFile = "/t"; package = ${fakeDrover()}; }; }`,
    );
    assert.deepEqual(evaluation.units, {});
  });
});
