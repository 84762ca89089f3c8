/**
 * `services.drover-agent.secrets.<name>` in the NixOS, nix-darwin and Home
 * Manager agent modules (nix/modules/common.nix): the path defaults to
 * /run/drover/secrets/<name> (not for Home Manager: a user's agent names
 * one) so another service can use `….secrets.<name>.path`; the declaration
 * reaches the agent as `--declared-secrets FILE`, JSON in the format
 * packages/agent/src/secrets/declared.ts reads (its test reads the same); no
 * declaration, no flag; bad names, paths and modes are refused. And
 * `identityFile`, the agent's age identity, becomes `--identity FILE`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evalModuleHarness, evalNixosConfig } from '@drover/test-support';
import { execStartWords, fakeDrover, shellWords, unitValue, withModuleTrees } from './support.js';

const DROVER = '/nix/store/00000000000000000000000000000000-drover/bin/drover';
const agent = `enable = true; name = "web-1"; server = "https://d"; tokenFile = "/t"; package = ${fakeDrover()};`;

/** The file after `--declared-secrets` in an argv, or undefined. */
function declaredFile(words: readonly string[]): string | undefined {
  const at = words.indexOf('--declared-secrets');
  return at < 0 ? undefined : words[at + 1];
}

function declaration(words: readonly string[]): unknown {
  const file = declaredFile(words) ?? assert.fail(`no --declared-secrets in ${words.join(' ')}`);
  assert.match(file, /^\/nix\/store\/[0-9a-z]{32}-drover-agent-[^/]+-secrets\.json$/);
  return JSON.parse(readFileSync(file, 'utf8'));
}

withModuleTrees('agent modules: declared secrets', () => {
  test('NixOS: default path under /run/drover/secrets, usable by other services; the agent gets the declaration as a file', async () => {
    const evaluation = await evalNixosConfig(`{ pkgs, config, ... }: {
      services.drover-agent = { ${agent}
        secrets.db = { owner = "postgres"; };
        secrets.api-key = { path = "/run/keys/api"; mode = "0440"; group = "web"; };
        instances.app = { profile = "app"; tokenFile = "/t2"; secrets.app-token = { }; };
      };
      systemd.services.myapp = {
        wantedBy = [ "multi-user.target" ];
        environment.DB_PASSWORD_FILE = config.services.drover-agent.secrets.db.path;
        serviceConfig.ExecStart = "/bin/true";
      };
    }`);
    assert.deepEqual(evaluation.failedAssertions, []);
    assert.match(evaluation.units['myapp.service']?.text ?? '', /^Environment="DB_PASSWORD_FILE=\/run\/drover\/secrets\/db"$/m);
    const main = execStartWords(unitValue(evaluation.units['drover-agent.service']?.text ?? '', 'Service', 'ExecStart'));
    assert.deepEqual(declaration(main), {
      secrets: {
        'api-key': { path: '/run/keys/api', owner: null, group: 'web', mode: '0440' },
        db: { path: '/run/drover/secrets/db', owner: 'postgres', group: null, mode: '0400' },
      },
    });
    assert.deepEqual(main.slice(-2, -1), ['--declared-secrets'], 'after the other flags');
    const app = execStartWords(unitValue(evaluation.units['drover-agent-app.service']?.text ?? '', 'Service', 'ExecStart'));
    assert.deepEqual(declaration(app), { secrets: { 'app-token': { path: '/run/drover/secrets/app-token', owner: null, group: null, mode: '0400' } } });
  });

  test('NixOS: no secrets declared, no --declared-secrets; a bad name, path or mode is refused', async () => {
    const none = await evalNixosConfig(`{ pkgs, ... }: { services.drover-agent = { ${agent} }; }`);
    assert.equal(declaredFile(execStartWords(unitValue(none.units['drover-agent.service']?.text ?? '', 'Service', 'ExecStart'))), undefined);
    const bad = await evalNixosConfig(
      `{ pkgs, ... }: { services.drover-agent = { ${agent} secrets.".hidden" = { }; secrets.rel = { path = "run/x"; }; secrets.dots = { path = "/run/../etc/x"; }; }; }`,
    );
    assert.deepEqual(bad.failedAssertions, [
      'services.drover-agent: secret ".hidden" of agent web-1 needs a name of 1-64 letters, digits, ., _ or - (not starting with .) and an absolute path without . or .. (got "/run/drover/secrets/.hidden").',
      'services.drover-agent: secret "dots" of agent web-1 needs a name of 1-64 letters, digits, ., _ or - (not starting with .) and an absolute path without . or .. (got "/run/../etc/x").',
      'services.drover-agent: secret "rel" of agent web-1 needs a name of 1-64 letters, digits, ., _ or - (not starting with .) and an absolute path without . or .. (got "run/x").',
    ]);
    await assert.rejects(
      evalNixosConfig(`{ pkgs, ... }: { services.drover-agent = { ${agent} secrets.db.mode = "rw"; }; }`),
      /secrets\.db\.mode[\s\S]*is not of type `string matching the pattern 0\?\[0-7\]\{3,4\}'/,
    );
  });

  test('identityFile becomes --identity (instances too); one in the Nix store or relative is refused', async () => {
    const evaluation = await evalNixosConfig(`{ pkgs, ... }: { services.drover-agent = { ${agent}
      identityFile = "/var/lib/drover-keys/web-1.age";
      instances.app = { profile = "app"; tokenFile = "/t2"; identityFile = "/var/lib/drover-keys/app.age"; };
    }; }`);
    assert.deepEqual(evaluation.failedAssertions, []);
    const main = execStartWords(unitValue(evaluation.units['drover-agent.service']?.text ?? '', 'Service', 'ExecStart'));
    assert.deepEqual(main.slice(main.indexOf('--identity'), main.indexOf('--identity') + 2), ['--identity', '/var/lib/drover-keys/web-1.age']);
    const app = execStartWords(unitValue(evaluation.units['drover-agent-app.service']?.text ?? '', 'Service', 'ExecStart'));
    assert.ok(app.join(' ').includes('--identity /var/lib/drover-keys/app.age'), app.join(' '));
    const none = await evalNixosConfig(`{ pkgs, ... }: { services.drover-agent = { ${agent} }; }`);
    assert.ok(!(none.units['drover-agent.service']?.text ?? '').includes('--identity'));
    const bad = await evalNixosConfig(
      `{ pkgs, ... }: { services.drover-agent = { ${agent} identityFile = "/nix/store/00000000000000000000000000000000-key"; }; }`,
    );
    assert.deepEqual(bad.failedAssertions, [
      'services.drover-agent: identityFile of agent web-1 is "/nix/store/00000000000000000000000000000000-key"; it must be an absolute path outside the Nix store (e.g. /var/lib/drover-keys/web-1.age).',
    ]);
  });

  test('nix-darwin: the daemon gets the declaration; the default path is the same', async () => {
    const evaluation = (await evalModuleHarness(
      'darwin',
      `{ pkgs, ... }: { networking.hostName = "mac-1"; services.drover-agent = { ${agent} secrets.db = { }; }; }`,
    )) as {
      failedAssertions: string[];
      daemons: Record<string, { serviceConfig: { ProgramArguments: string[] } }>;
    };
    assert.deepEqual(evaluation.failedAssertions, []);
    const command = evaluation.daemons['drover-agent']?.serviceConfig.ProgramArguments[2] ?? '';
    const words = await shellWords(command.replace('/bin/wait4path /nix/store && exec ', ''), DROVER);
    assert.deepEqual(declaration(words), { secrets: { db: { path: '/run/drover/secrets/db', owner: null, group: null, mode: '0400' } } });
  });

  test('Home Manager: each secret names its path (no default a user could not write); the user service gets the declaration', async () => {
    const home = (config: string) =>
      evalModuleHarness('home-manager', `{ pkgs, ... }: { services.drover-agent = { ${agent} ${config} }; }`) as Promise<{
        failedAssertions: string[];
        units: Record<string, string>;
      }>;
    const evaluation = await home('secrets.token = { path = "/home/alice/.local/state/secrets/token"; };');
    assert.deepEqual(evaluation.failedAssertions, []);
    const words = execStartWords(unitValue(evaluation.units['drover-agent.service'] ?? '', 'Service', 'ExecStart'));
    assert.deepEqual(declaration(words), { secrets: { token: { path: '/home/alice/.local/state/secrets/token', owner: null, group: null, mode: '0400' } } });
    await assert.rejects(
      home('secrets.token = { };'),
      /option `services\.drover-agent\.secrets\.token\.path' was accessed but has no value defined|services\.drover-agent\.secrets\.token\.path' is used but not defined/,
    );
  });
});
