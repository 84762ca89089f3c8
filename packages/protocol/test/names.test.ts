/**
 * Validated names (names.ts): agent names, workspace names, store paths
 * (Nix's base-32 hash alphabet, the name part, the /nix/store/ prefix) and
 * system doubles — what is accepted, what is refused and with which error.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGENT_NAME_PATTERN,
  agentNameProblem,
  DroverError,
  isAgentName,
  isStorePath,
  isSystem,
  NIX_BASE32_ALPHABET,
  parseAgentName,
  parseStorePath,
  parseWorkspaceName,
  storePathHash,
  storePathName,
  storePathProblem,
  STORE_PATH_PATTERN,
  workspaceNameProblem,
  type StorePath,
} from '../src/index.js';

const HASH = '0123456789abcdfghijklmnpqrsvwxyz'; // exactly the 32 characters of nix base-32

describe('agent names', () => {
  for (const name of ['web-1', 'NPS03', 'a.b_c', 'x', 'a'.repeat(64), '...a', '-lead-dash']) {
    test(`accepts ${JSON.stringify(name.length > 20 ? `${name.length} chars` : name)}`, () => {
      assert.equal(agentNameProblem(name), null);
      assert.equal(isAgentName(name), true);
      assert.equal(parseAgentName(name), name);
    });
  }

  const invalid: [string, unknown][] = [
    ['empty', ''],
    ['65 characters', 'a'.repeat(65)],
    ['a space', 'a b'],
    ['a slash', 'a/b'],
    ['"."', '.'],
    ['".."', '..'],
    ['"__proto__"', '__proto__'],
    ['unicode letters', 'wébserver'],
    ['CJK', '名前'],
    ['a newline', 'web\n'],
    ['a non-string', 42],
    ['null', null],
  ];
  for (const [label, value] of invalid) {
    test(`rejects ${label}`, () => {
      const problem = agentNameProblem(value);
      assert.equal(typeof problem, 'string');
      assert.equal(isAgentName(value), false);
      assert.throws(
        () => parseAgentName(value),
        (err: unknown) => err instanceof DroverError && err.code === 'DROVER_ERR_INVALID_AGENT_NAME' && err.statusCode === 400 && err.message === problem,
      );
    });
  }

  test('".." is reported as reserved, other invalid names name the allowed characters', () => {
    assert.match(agentNameProblem('..')!, /reserved/);
    assert.match(agentNameProblem('a b')!, /"a b" is invalid: use 1-64 letters, digits/);
  });
});

describe('workspace names', () => {
  test('accepts lowercase names starting with a letter or digit, up to 64 chars', () => {
    for (const name of ['default', 'team-a', '0ops', 'a'.repeat(64)]) assert.equal(workspaceNameProblem(name), null, name);
  });
  test('rejects uppercase, a leading dash, dots, 65 chars and empty', () => {
    for (const name of ['Default', '-a', 'a.b', 'a_b', 'a'.repeat(65), '']) {
      assert.throws(() => parseWorkspaceName(name), { code: 'DROVER_ERR_INVALID_WORKSPACE_NAME' }, name);
    }
  });
});

describe('store paths', () => {
  test('the test hash uses exactly the nix base-32 alphabet', () => {
    assert.equal(HASH, NIX_BASE32_ALPHABET);
  });

  const valid = [
    `/nix/store/${HASH}-hello-2.12`,
    `/nix/store/${HASH}-nixos-system-web-1-24.05.drv`,
    `/nix/store/${HASH}-a`,
    `/nix/store/${HASH}-name+with=chars?_.x`,
    `/nix/store/${HASH}-${'n'.repeat(211)}`,
    // Nix accepts a leading period (`nix-store --add .bashrc`), except for the names above.
    `/nix/store/${HASH}-.bashrc`,
    `/nix/store/${HASH}-...`,
  ];
  for (const path of valid) {
    test(`accepts ${path.length > 80 ? 'a 211-character name' : path}`, () => {
      assert.equal(storePathProblem(path), null);
      assert.equal(isStorePath(path), true);
      assert.equal(parseStorePath(path), path);
    });
  }

  const invalid: [string, unknown][] = [
    ['an "e" in the hash (not in nix base-32)', `/nix/store/${'e'.repeat(32)}-hello`],
    ['an "o" in the hash', `/nix/store/${HASH.slice(0, 31)}o-hello`],
    ['a "u" in the hash', `/nix/store/${HASH.slice(0, 31)}u-hello`],
    ['a "t" in the hash', `/nix/store/${HASH.slice(0, 31)}t-hello`],
    ['uppercase in the hash', `/nix/store/${HASH.slice(0, 31).toUpperCase()}a-hello`],
    ['a 31-character hash', `/nix/store/${HASH.slice(0, 31)}-hello`],
    ['a 33-character hash', `/nix/store/${HASH}a-hello`],
    ['no name', `/nix/store/${HASH}`],
    ['an empty name', `/nix/store/${HASH}-`],
    ['a 212-character name', `/nix/store/${HASH}-${'n'.repeat(212)}`],
    ['a path inside the store path', `/nix/store/${HASH}-hello/bin/hello`],
    ['a space in the name', `/nix/store/${HASH}-hello world`],
    ['no leading slash', `nix/store/${HASH}-hello`],
    ['another store dir', `/gnu/store/${HASH}-hello`],
    ['a misspelt store dir', `/nix/stor/${HASH}-hello`],
    ['a double slash', `/nix/store//${HASH}-hello`],
    ['a relative path', `./result`],
    ['a trailing newline', `/nix/store/${HASH}-hello\n`],
    ['the name "."', `/nix/store/${HASH}-.`],
    ['the name ".."', `/nix/store/${HASH}-..`],
    ['a name starting with ".-"', `/nix/store/${HASH}-.-x`],
    ['a name starting with "..-"', `/nix/store/${HASH}-..-x`],
    ['a number', 7],
    ['undefined', undefined],
  ];
  for (const [label, value] of invalid) {
    test(`rejects ${label}`, () => {
      assert.equal(typeof storePathProblem(value), 'string');
      assert.equal(isStorePath(value), false);
      assert.throws(() => parseStorePath(value), { code: 'DROVER_ERR_INVALID_STORE_PATH', statusCode: 400 });
    });
  }

  test('the problem text quotes the value and shows the expected form', () => {
    assert.equal(storePathProblem('/tmp/x'), '"/tmp/x" is not a store path (expected /nix/store/<32-char hash>-<name>)');
    assert.equal(storePathProblem(null), 'store path must be a string');
  });

  test('storePathHash and storePathName split a store path', () => {
    const path = `/nix/store/${HASH}-hello-2.12` as StorePath;
    assert.equal(storePathHash(path), HASH);
    assert.equal(storePathName(path), 'hello-2.12');
  });
});

describe('one rule on every layer', () => {
  // The server's request schemas use the patterns; the CLI and agent use the parse functions.
  const agentRe = new RegExp(AGENT_NAME_PATTERN);
  const storeRe = new RegExp(STORE_PATH_PATTERN);
  test('the agent-name schema pattern accepts exactly what agentNameProblem accepts', () => {
    for (const name of ['web-1', '.', '..', '...', '.a', 'a.', '__proto__', 'constructor', '', 'a'.repeat(65), 'a b']) {
      assert.equal(agentRe.test(name), isAgentName(name), JSON.stringify(name));
    }
  });
  test('the store-path schema pattern accepts exactly what storePathProblem accepts', () => {
    for (const name of ['hello', '.', '..', '.-x', '..-x', '.bashrc', '...', 'a-b', '']) {
      const path = `/nix/store/${HASH}-${name}`;
      assert.equal(storeRe.test(path), isStorePath(path), path);
    }
  });
});

describe('systems', () => {
  test('accepts Nix system doubles', () => {
    for (const s of ['x86_64-linux', 'aarch64-darwin', 'i686-linux', 'armv7l-linux']) assert.equal(isSystem(s), true, s);
  });
  test('rejects other strings', () => {
    for (const s of ['linux', 'x86_64-Linux', 'x86_64-linux-gnu', '', '-linux', 'x86 64-linux', `${'a'.repeat(60)}-linux`, 3]) {
      assert.equal(isSystem(s), false, String(s));
    }
  });
});
