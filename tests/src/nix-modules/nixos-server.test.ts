/**
 * nix/modules/nixos/server.nix evaluated with nixpkgs' lib over the NixOS
 * option stub (tests/nix/nixos): the unit, the TOML file made from
 * `settings`, the local PostgreSQL database, the firewall, and the
 * configurations it refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { evalNixosConfig, type NixosEvaluation } from '@drover/test-support';
import { execStartWords, fakeDrover, unitValue, withModuleTrees } from './support.js';

function server(options: string): Promise<NixosEvaluation> {
  return evalNixosConfig(`{ pkgs, ... }: { services.drover-server = { enable = true; package = ${fakeDrover()}; ${options} }; }`);
}

async function serverUnit(evaluation: NixosEvaluation): Promise<{ text: string; argv: string[]; toml: string }> {
  assert.deepEqual(evaluation.failedAssertions, []);
  const text = evaluation.units['drover-server.service']?.text ?? assert.fail('no drover-server.service');
  const argv = execStartWords(unitValue(text, 'Service', 'ExecStart'));
  assert.deepEqual(argv.slice(0, 3), ['/nix/store/00000000000000000000000000000000-drover/bin/drover', 'server', '--config']);
  return { text, argv, toml: await readFile(argv[3] ?? '', 'utf8') };
}

withModuleTrees('NixOS server module', () => {
  test('defaults: SQLite in /var/lib/drover, listening on 127.0.0.1:7700, as the drover user, firewall closed', async () => {
    const evaluation = await server('');
    const { text, toml } = await serverUnit(evaluation);
    assert.equal(toml, 'data_dir = "/var/lib/drover"\nlisten = "127.0.0.1:7700"\nworkers = 1\n');
    assert.equal(unitValue(text, 'Service', 'User'), 'drover');
    assert.equal(unitValue(text, 'Service', 'StateDirectory'), 'drover');
    assert.equal(unitValue(text, 'Service', 'Restart'), 'on-failure');
    assert.equal(evaluation.postgresql.enable, false);
    assert.deepEqual(evaluation.firewallPorts, []);
    assert.equal(evaluation.users['drover']?.isSystemUser, true);
  });

  test('database.createLocally: PostgreSQL gets the database and its owner, the server connects over the unix socket after it', async () => {
    const evaluation = await server('database.createLocally = true; workers = 4;');
    const { text, toml } = await serverUnit(evaluation);
    assert.match(toml, /^database_url = "postgres:\/\/drover@\/drover\?host=\/run\/postgresql"$/m);
    assert.match(toml, /^workers = 4$/m);
    assert.equal(evaluation.postgresql.enable, true);
    assert.deepEqual(evaluation.postgresql.ensureDatabases, ['drover']);
    assert.deepEqual(
      evaluation.postgresql.ensureUsers.map((u) => ({ name: u.name, owner: u.ensureDBOwnership })),
      [{ name: 'drover', owner: true }],
    );
    assert.equal(unitValue(text, 'Unit', 'After'), 'network.target postgresql.service');
    assert.equal(unitValue(text, 'Unit', 'Requires'), 'postgresql.service');
  });

  test('settings become keys of the TOML file; listen, dataDir, databaseUrl, environmentFile and openFirewall do their part', async () => {
    const evaluation = await server(`
      listen = "0.0.0.0:8443"; dataDir = "/srv/drover"; databaseUrl = "postgres://drover@db.example.com/drover";
      environmentFile = "/run/secrets/drover.env"; openFirewall = true;
      settings = { public_url = "https://deploy.example.com"; cache_gc_interval = 86400; };`);
    const { text, toml } = await serverUnit(evaluation);
    assert.equal(
      toml,
      [
        'cache_gc_interval = 86400',
        'data_dir = "/srv/drover"',
        'database_url = "postgres://drover@db.example.com/drover"',
        'listen = "0.0.0.0:8443"',
        'public_url = "https://deploy.example.com"',
        'workers = 1',
        '',
      ].join('\n'),
    );
    assert.equal(unitValue(text, 'Service', 'EnvironmentFile'), '/run/secrets/drover.env');
    assert.equal(unitValue(text, 'Service', 'WorkingDirectory'), '/srv/drover');
    assert.doesNotMatch(text, /StateDirectory=/, 'StateDirectory= only makes directories under /var/lib');
    assert.deepEqual(evaluation.firewallPorts, [8443]);
    assert.equal(evaluation.postgresql.enable, false);
  });

  test('contradictions are refused with the fix: createLocally with a URL, workers on SQLite, a relative dataDir', async () => {
    const both = await server('database.createLocally = true; databaseUrl = "postgres://x/y";');
    assert.deepEqual(both.failedAssertions, ['services.drover-server: database.createLocally makes its own database URL; leave databaseUrl unset (null).']);
    const sqlite = await server('workers = 2;');
    assert.match(sqlite.failedAssertions.join('\n'), /workers = 2 needs PostgreSQL/);
    const relative = await server('dataDir = "data";');
    assert.match(relative.failedAssertions.join('\n'), /dataDir must be an absolute path, got "data"/);
    assert.deepEqual(relative.units, {});
  });
});
