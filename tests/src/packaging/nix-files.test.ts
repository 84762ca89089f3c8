/**
 * flake.nix, default.nix and nix/**.nix: every file parses (a syntax error
 * fails here), and what can be evaluated without nixpkgs is: the flake's
 * outputs, default.nix and nix/package*.nix over nixpkgs' real `lib` (the
 * nixpkgs-lib tarball in $DROVER_NIX_MODULE_TARBALLS, default
 * /work/shared/nix/modules) with stand-in builders that return what they were
 * given (tests/fixtures/nix-packaging/eval.nix). Nothing is built.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { nixEval, nixString, repoRoot, run, tempDir } from '@drover/test-support';

const root = repoRoot();
const tarballs = process.env['DROVER_NIX_MODULE_TARBALLS'] ?? '/work/shared/nix/modules';
const libTarball = join(tarballs, 'nixpkgs-lib.tar.gz');
const SYSTEMS = ['aarch64-darwin', 'aarch64-linux', 'x86_64-darwin', 'x86_64-linux'];

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? nixFiles(join(dir, d.name)) : d.name.endsWith('.nix') ? [join(dir, d.name)] : [],
  );
}

test('flake.nix, default.nix and every file under nix/ parse', { timeout: 120_000 }, async () => {
  const files = [join(root, 'flake.nix'), join(root, 'default.nix'), ...nixFiles(join(root, 'nix'))];
  for (const f of ['nix/package.nix', 'nix/agent-package.nix', 'nix/npm-lock.nix', 'nix/packages.nix']) assert.ok(files.includes(join(root, f)), `${f} exists`);
  for (const file of files) {
    const res = await run('nix-instantiate', ['--parse', file], { timeoutMs: 30_000 });
    assert.equal(res.code, 0, `${relative(root, file)} does not parse:\n${res.stderr}`);
  }
});

interface Described {
  name: string;
  mainProgram: string;
  platforms: string[];
}
interface Facts {
  flakeNixpkgs: string;
  systems: string[];
  packages: Record<string, string[]>;
  drover: Described & {
    nodejs: string;
    hookIsImportNpmLocks: boolean;
    npmRootIsSource: boolean;
    resolved: Record<string, string | null>;
    relinksWorkspaces: string;
  };
  agent: Described & { disallowsTheFullPackage: boolean; installPhase: string };
  callPackageAlone: { drover: string; agent: string };
  mirror: string;
  defaultNix: string[];
  defaultNixMirror: string;
  modules: Record<string, unknown>;
  libType: string | null;
}

test(
  'the flake, default.nix and the packages evaluate over nixpkgs lib: outputs, mainProgram, Node, importNpmLock with derived URLs',
  { timeout: 120_000 },
  async (t) => {
    if (!existsSync(libTarball)) {
      if (process.env['CI'] === 'true') assert.fail(`${libTarball} is missing (set DROVER_NIX_MODULE_TARBALLS)`);
      t.skip(`no ${libTarball}: set DROVER_NIX_MODULE_TARBALLS to the directory holding nixpkgs-lib.tar.gz`);
      return;
    }
    const dir = await tempDir('drover-nixpkgs-lib-');
    try {
      const untar = await run('tar', ['-xzf', libTarball, '-C', dir.path], { timeoutMs: 60_000 });
      assert.equal(untar.code, 0, untar.stderr);
      const evalWith = (nodeVersion: string) =>
        nixEval(
          `import ${nixString(join(root, 'tests/fixtures/nix-packaging/eval.nix'))} { repo = ${nixString(root)}; lib = import ${nixString(join(dir.path, 'nixpkgs-lib/lib'))}; nodeVersion = ${nixString(nodeVersion)}; }`,
        );
      const res = await evalWith('22.11.0');
      assert.ok(res.ok, res.ok ? '' : res.error);
      const facts = res.value as Facts;

      assert.equal(facts.flakeNixpkgs, 'github:NixOS/nixpkgs/nixos-unstable');
      assert.deepEqual(facts.systems, SYSTEMS);
      for (const system of SYSTEMS) assert.deepEqual(facts.packages[system], ['default', 'drover', 'drover-agent'], system);
      assert.deepEqual(facts.defaultNix, ['darwinModules', 'default', 'drover', 'drover-agent', 'homeManagerModules', 'lib', 'nixosModules']);
      const modules = {
        nixos: { agent: 'nix/modules/nixos/agent.nix', server: 'nix/modules/nixos/server.nix' },
        darwin: { agent: 'nix/modules/darwin/agent.nix' },
        homeManager: { agent: 'nix/modules/home-manager/agent.nix' },
      };
      assert.deepEqual(facts.modules, { ...modules, defaultNix: modules });
      if (existsSync(join(root, 'nix/lib.nix'))) assert.equal(facts.libType, 'set', 'flake lib is nix/lib.nix applied to nixpkgs lib');

      for (const pkg of [facts.drover, facts.agent]) {
        assert.equal(pkg.mainProgram, 'drover', pkg.name);
        for (const system of SYSTEMS) assert.ok(pkg.platforms.includes(system), `${pkg.name} on ${system}`);
      }
      assert.equal(facts.drover.name, `drover-${(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version}`);
      assert.equal(facts.drover.nodejs, '22.11.0', "nixpkgs' nodejs is the one used");
      assert.ok(facts.drover.hookIsImportNpmLocks, "buildNpmPackage uses importNpmLock's npmConfigHook");
      assert.ok(facts.drover.npmRootIsSource, 'importNpmLock reads the package source');
      const urls = Object.values(facts.drover.resolved).filter((u): u is string => u?.startsWith('https://registry.npmjs.org/') ?? false);
      assert.ok(urls.length > 300, `importNpmLock gets the lock with derived URLs (${urls.length})`);
      assert.match(facts.drover.relinksWorkspaces, /ln -sr packages\/agent node_modules\/@drover\/agent\n/);
      assert.ok(facts.agent.disallowsTheFullPackage, 'the agent package cannot keep the full package in its closure');
      assert.match(facts.agent.installPhase, /drover-0\.1\.0\/lib\/drover\/packages\/cli\/dist\/drover-agent\.mjs /);
      assert.match(
        facts.agent.installPhase,
        /makeWrapper \S+-nodejs-22\.11\.0\/bin\/node \$out\/bin\/drover --add-flags \$out\/lib\/drover-agent\/drover-agent\.mjs/,
      );
      assert.deepEqual(facts.callPackageAlone, { drover: 'drover-0.1.0', agent: 'drover-agent-0.1.0' }, 'callPackage with no arguments works');
      assert.match(facts.mirror, /^https:\/\/npm\.example\.com\/npm\/ws\/-\/ws-[\d.]+\.tgz$/);
      assert.match(facts.defaultNixMirror, /^http:\/\/127\.0\.0\.1:4873\/ws\/-\/ws-[\d.]+\.tgz$/);

      const old = await evalWith('18.19.1');
      assert.ok(!old.ok, 'Node 18 is refused');
      assert.match(old.error, /drover needs Node\.js 20\.19 or newer, got 18\.19\.1/);
    } finally {
      await dir.remove();
    }
  },
);
