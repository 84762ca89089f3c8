/**
 * nix/lib.nix evaluated by real Nix (nix-instantiate, no nixpkgs): mkDeploySpec
 * on fake NixOS, nix-darwin and Home Manager configurations, a derivation and
 * a store path yields exactly the Cachix deploy.json format, which our own
 * parser accepts; writeDeploySpec writes the same as a file; values that are
 * none of these fail with an error naming the agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeploySpecText } from '@drover/protocol';
import { nixEval } from '@drover/test-support';
import { repoRoot, run } from '../support/nix.js';

const LIB = join(repoRoot(), 'nix', 'lib.nix');
const STORE_PATH = '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-literal';

/** Fake configurations with the attributes the real ones have; derivations built by /bin/sh. */
const PRELUDE = `
  l = import ${LIB} { lib = null; };
  mk = name: derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo \${name} > $out" ]; };
  nixos = { config.system.build.toplevel = mk "nixos-toplevel"; options = { }; pkgs = { }; };
  darwin = { system = mk "darwin-system"; config.system.build.toplevel = mk "darwin-system"; };
  home = { activationPackage = mk "home-manager-generation"; config.home.activationPackage = mk "home-manager-generation"; };
  plain = mk "plain-profile";
  rollback = mk "rollback-script";
  args = { agents = { web-1 = nixos; mac = darwin; laptop = home; other = plain; literal = "${STORE_PATH}"; }; rollbackScript.x86_64-linux = rollback; };
  pkgs.writeText = name: text: derivation { inherit name text; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "printf %s \\"$text\\" > $out" ]; };
`;

/** `body` evaluated with the prelude's bindings in scope. */
const evalWithPrelude = (body: string) => nixEval(`let ${PRELUDE} in ${body}`);

async function evalJson(body: string): Promise<unknown> {
  const r = await evalWithPrelude(body);
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
}

test('mkDeploySpec: exactly the Cachix format, store paths of each kind of configuration', { timeout: 120_000 }, async () => {
  const expected = (await evalJson(
    `{ agents = { web-1 = "\${nixos.config.system.build.toplevel}"; mac = "\${darwin.system}"; laptop = "\${home.activationPackage}"; other = "\${plain}"; literal = "${STORE_PATH}"; }; rollbackScript.x86_64-linux = "\${rollback}"; }`,
  )) as { agents: Record<string, string> };
  const spec = await evalJson('l.mkDeploySpec args');
  assert.deepEqual(spec, expected);
  assert.deepEqual(Object.keys(spec as object).sort(), ['agents', 'rollbackScript'], 'only the two keys of the Cachix format');
  for (const path of Object.values(expected.agents)) assert.match(path, /^\/nix\/store\/[0-9a-z]{32}-[a-z0-9-]+$/);
  assert.deepEqual(parseDeploySpecText(JSON.stringify(spec)), spec, 'our own deploy.json parser accepts it unchanged');
  assert.deepEqual(
    await evalJson('l.mkDeploySpec { agents.web-1 = nixos; }'),
    { agents: { 'web-1': expected.agents['web-1'] } },
    'no rollbackScript key when none is given',
  );
});

test('writeDeploySpec: a deploy.json file with the same content, depending on the closures', { timeout: 120_000 }, async () => {
  const r = await run('nix-build', ['--no-out-link', '--expr', `let ${PRELUDE} in l.writeDeploySpec pkgs args`], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  const file = r.stdout.trim();
  assert.match(file, /-deploy\.json$/);
  const text = await readFile(file, 'utf8');
  assert.deepEqual(JSON.parse(text), await evalJson('l.mkDeploySpec args'));
  parseDeploySpecText(text, file);
  const refs = await run('nix-store', ['--query', '--references', file], { timeoutMs: 30_000 });
  assert.match(refs.stdout, /-nixos-toplevel$/m, 'the file refers to the closures, so building it builds them');
});

test('mkDeploySpec: a value that is not deployable fails naming the agent', { timeout: 120_000 }, async () => {
  const cases: [string, RegExp][] = [
    [
      'l.mkDeploySpec { agents.web-2 = { foo = 1; }; }',
      /agent "web-2" is an attribute set with keys \["foo"\]; expected a NixOS, nix-darwin or Home Manager configuration/,
    ],
    ['l.mkDeploySpec { agents.db = 42; }', /agent "db" is a int/],
    ['l.mkDeploySpec { agents.db = "/etc/passwd"; }', /agent "db" is the string "\/etc\/passwd", which is not a store path/],
    ['l.mkDeploySpec { agents.db = nixos; rollbackScript.x86_64-linux = { }; }', /rollbackScript\.x86_64-linux is an attribute set/],
    ['l.mkDeploySpec { agents = { }; }', /agents is empty/],
    ['l.mkDeploySpec { agent.db = nixos; }', /takes `agents` and `rollbackScript`, not \["agent"\]/],
  ];
  for (const [body, message] of cases) {
    const r = await evalWithPrelude(body);
    assert.equal(r.ok, false, `${body} must fail`);
    assert.match(r.error, message, body);
  }
});
