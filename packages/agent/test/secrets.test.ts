/**
 * The agent's secrets (src/secrets/, runner/secrets.ts) with real age
 * files made by Debian's `age` where it is installed (else by
 * age-encryption): the identity is made once, 0600, in age-keygen's format
 * and `age -d -i` reads it; a set is decrypted whole before anything is
 * written, files land atomically with their mode and owner in a 0751
 * directory, dropped secrets' files are deleted, a tampered or foreign
 * ciphertext and an unknown owner fail naming the secret with nothing
 * written; the start-up pass writes only missing files; the runner fails a
 * deployment with a bad secret before it fetches, and a secrets-only order
 * writes them without touching the profile; declared secrets are checked.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { AGE_RECIPIENT_PATTERN, type SecretOrder, type StorePath } from '@drover/protocol';
import { tempDir } from '@drover/test-support';
import { JournalReader } from '../src/journal/reader.js';
import type { JournalEntry } from '../src/journal/entry.js';
import { Journal } from '../src/runner/journal.js';
import { runDeployment } from '../src/runner/run-deployment.js';
import { readApplied } from '../src/secrets/applied.js';
import { declaredSecretProblems, readDeclaredSecrets } from '../src/secrets/declared.js';
import { SecretFailure } from '../src/secrets/failure.js';
import { filesystemTypeOf } from '../src/secrets/files.js';
import { defaultIdentityFile, loadIdentity } from '../src/secrets/identity.js';
import { prepareSecrets, writeSecrets } from '../src/secrets/materialise.js';
import { deploymentDir, files, writeOrder } from '../src/state.js';

const root = await tempDir('drover-secrets-test-');
after(() => root.remove());
let count = 0;
function scratch(): string {
  const dir = join(root.path, String(++count));
  mkdirSync(dir, { recursive: true });
  return dir;
}

const hasAge = (() => {
  try {
    execFileSync('age', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const isRoot = process.getuid?.() === 0;

/** A binary age file of `plaintext` for `recipient`: made by Debian's `age -r` when installed. */
async function encrypt(plaintext: string, recipient: string): Promise<Buffer> {
  if (hasAge) return execFileSync('age', ['-r', recipient], { input: plaintext });
  const e = new Encrypter();
  e.addRecipient(recipient);
  return Buffer.from(await e.encrypt(plaintext));
}

async function secret(name: string, plaintext: string, recipient: string, fields: Partial<SecretOrder> & { path: string }): Promise<SecretOrder> {
  return { name, owner: null, group: null, mode: 0o400, version: 1, ciphertext: (await encrypt(plaintext, recipient)).toString('base64'), ...fields };
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o7777;
}

describe('identity', () => {
  test('made on first start in age-keygen format, 0600; the same key after; `age -d -i` reads it', async () => {
    const state = scratch();
    const file = defaultIdentityFile(state);
    const first = loadIdentity(file);
    assert.match(first.recipient, new RegExp(AGE_RECIPIENT_PATTERN));
    assert.equal(modeOf(file), 0o600);
    const text = readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^# created: .+\\n# public key: ${first.recipient}\\nAGE-SECRET-KEY-1[0-9A-Z]+\\n$`));
    assert.deepEqual(loadIdentity(file), first, 'the second start keeps the identity');
    assert.deepEqual(
      readdirSync(state).filter((n) => n !== 'age-identity'),
      [],
      'no temporary file left',
    );
    if (hasAge) {
      const ciphertext = await encrypt('interop', first.recipient);
      assert.equal(execFileSync('age', ['-d', '-i', file], { input: ciphertext }).toString(), 'interop');
    }
  });

  test('an identity others can read, or a file without one, is refused naming the file', async () => {
    const state = scratch();
    const file = join(state, 'id');
    loadIdentity(file);
    chmodSync(file, 0o644);
    assert.throws(
      () => loadIdentity(file),
      (err: Error) => err.message.includes(`${file} is readable by others (mode 0644): run \`chmod 600 ${file}\``),
    );
    writeFileSync(join(state, 'junk'), 'hello\n', { mode: 0o600 });
    assert.throws(() => loadIdentity(join(state, 'junk')), /junk holds no age identity/);
  });

  test('an identity made with age-keygen is used as it is', { skip: !hasAge && 'Debian age not installed' }, async () => {
    const file = join(scratch(), 'keygen');
    execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
    chmodSync(file, 0o600);
    const expected = execFileSync('age-keygen', ['-y', file]).toString().trim();
    assert.equal(loadIdentity(file).recipient, expected);
  });
});

describe('materialising a set', () => {
  test('all decrypt, then each is written atomically with its mode and owner in a new 0751 directory; the record holds no plaintext', async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const dir = join(scratch(), 'run', 'secrets');
    const set = [
      await secret('db', 'db-password-1', id.recipient, { path: join(dir, 'db'), mode: 0o440, ...(isRoot ? { owner: 'nobody', group: 'nogroup' } : {}) }),
      await secret('api', 'api-key-1', id.recipient, { path: join(dir, 'api'), mode: 0o400, version: 7 }),
    ];
    const said: string[] = [];
    writeSecrets(await prepareSecrets(set, id.file), { stateDir: state, say: (t) => said.push(t) });
    assert.equal(readFileSync(join(dir, 'db'), 'utf8'), 'db-password-1');
    assert.equal(readFileSync(join(dir, 'api'), 'utf8'), 'api-key-1');
    assert.equal(modeOf(join(dir, 'db')), 0o440);
    assert.equal(modeOf(join(dir, 'api')), 0o400);
    assert.equal(modeOf(dir), 0o751);
    if (isRoot) {
      assert.equal(statSync(join(dir, 'db')).uid, 65534);
      assert.equal(statSync(join(dir, 'db')).gid, 65534);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['api', 'db'], 'no temporary file left');
    assert.ok(said.some((l) => l.startsWith(`secret db: wrote ${join(dir, 'db')} (version 1, mode 0440`)));
    const record = readFileSync(join(state, 'secrets.json'), 'utf8');
    assert.equal(modeOf(join(state, 'secrets.json')), 0o600);
    assert.doesNotMatch(record, /db-password-1|api-key-1/);
    assert.deepEqual(readApplied(state), set);
    assert.ok(!said.join('\n').includes('password'), 'no plaintext in the log');
  });

  test("decrypts in V8's lite mode, which the agent process runs in (bin/drover): no WebAssembly needed", async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const order = await secret('lite', 'lite-mode-plain', id.recipient, { path: '/unused' });
    const decrypt = new URL('../src/secrets/decrypt.js', import.meta.url).href;
    const script = `const { decryptSecrets } = await import(${JSON.stringify(decrypt)}); const [d] = await decryptSecrets([${JSON.stringify(order)}], ${JSON.stringify(id.file)}); process.stdout.write(Buffer.from(d.plaintext).toString());`;
    const stdout = execFileSync(process.execPath, ['--lite-mode', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 30_000,
    });
    assert.equal(stdout.toString(), 'lite-mode-plain');
  });

  test('a rotation rewrites only what changed; a dropped secret has its file deleted; a moved one leaves its old path', async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const dir = scratch();
    const a = await secret('a', 'A1', id.recipient, { path: join(dir, 'a') });
    const b = await secret('b', 'B1', id.recipient, { path: join(dir, 'b') });
    const c = await secret('c', 'C1', id.recipient, { path: join(dir, 'c') });
    writeSecrets(await prepareSecrets([a, b, c], id.file), { stateDir: state, say: () => undefined });
    const said: string[] = [];
    const a2 = { ...(await secret('a', 'A2', id.recipient, { path: join(dir, 'a') })), version: 2 };
    const c2 = { ...c, path: join(dir, 'c-moved'), version: 2 };
    writeSecrets(await prepareSecrets([a2, c2], id.file), { stateDir: state, say: (t) => said.push(t) });
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'A2');
    assert.equal(existsSync(join(dir, 'b')), false);
    assert.equal(existsSync(join(dir, 'c')), false);
    assert.equal(readFileSync(join(dir, 'c-moved'), 'utf8'), 'C1');
    assert.ok(said.includes(`secret b: removed ${join(dir, 'b')} (no longer set for this agent)`), said.join('\n'));
    assert.ok(said.includes(`secret c: removed ${join(dir, 'c')} (its path changed)`), said.join('\n'));
    const again: string[] = [];
    const recorded = statSync(join(state, 'secrets.json')).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeSecrets(await prepareSecrets([a2, c2], id.file), { stateDir: state, say: (t) => again.push(t) });
    assert.equal(statSync(join(state, 'secrets.json')).mtimeMs, recorded, 'an unchanged set is not recorded again (no state write)');
    assert.deepEqual(again, [`secret a: unchanged (version 2, ${join(dir, 'a')})`, `secret c: unchanged (version 2, ${join(dir, 'c-moved')})`]);
    writeSecrets(await prepareSecrets([], id.file), { stateDir: state, say: () => undefined });
    assert.deepEqual(readdirSync(dir), [], 'an empty set deletes them all');
  });

  test('a tampered ciphertext, one for another agent or an unknown owner fails naming the secret, and nothing is written', async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const dir = join(scratch(), 'never');
    const good = await secret('good', 'fine', id.recipient, { path: join(dir, 'good') });
    const bytes = Buffer.from((await secret('bad', 'tampered-plain', id.recipient, { path: join(dir, 'bad') })).ciphertext, 'base64');
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 1;
    const tampered = { ...good, name: 'bad', path: join(dir, 'bad'), ciphertext: bytes.toString('base64') };
    await assert.rejects(
      prepareSecrets([good, tampered], id.file),
      (err: Error) =>
        err instanceof SecretFailure &&
        /^secret "bad" \(version 1\) cannot be decrypted: its ciphertext is damaged or was tampered with \(age: .+\)$/.test(err.message),
    );
    const other = await identityToRecipient(await generateX25519Identity());
    await assert.rejects(
      prepareSecrets([await secret('foreign', 'x', other, { path: join(dir, 'foreign') })], id.file),
      new RegExp(`secret "foreign" \\(version 1\\) cannot be decrypted: it is not encrypted to this agent's recipient ${id.recipient}`),
    );
    await assert.rejects(
      prepareSecrets([{ ...good, owner: 'no-such-user-drover' }], id.file),
      /secret "good": there is no user "no-such-user-drover" on this machine/,
    );
    await assert.rejects(prepareSecrets([{ ...good, group: 'no-such-group-drover' }], id.file), /secret "good": there is no group "no-such-group-drover"/);
    await assert.rejects(prepareSecrets([good], null), /started without an age identity/);
    assert.equal(existsSync(dir), false, 'nothing was written');
  });

  test('at start only missing files are written again from the record; nothing is deleted', async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const dir = scratch();
    const a = await secret('a', 'A1', id.recipient, { path: join(dir, 'a') });
    const b = await secret('b', 'B1', id.recipient, { path: join(dir, 'b') });
    writeSecrets(await prepareSecrets([a, b], id.file), { stateDir: state, say: () => undefined });
    execFileSync('rm', [join(dir, 'a')]);
    writeFileSync(join(dir, 'b'), 'edited by hand');
    writeSecrets(await prepareSecrets(readApplied(state), id.file), { stateDir: state, onlyMissing: true, say: () => undefined });
    assert.equal(readFileSync(join(dir, 'a'), 'utf8'), 'A1');
    assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'edited by hand');
  });

  test('the filesystem type comes from the longest mount point above the directory', () => {
    const mounts = join(scratch(), 'mounts');
    writeFileSync(
      mounts,
      ['/dev/sda1 / ext4 rw 0 0', 'tmpfs /run tmpfs rw 0 0', 'tmpfs /run/my\\040dir tmpfs rw 0 0', '/dev/sdb /run/disk xfs rw 0 0', ''].join('\n'),
    );
    assert.equal(filesystemTypeOf('/run/drover/secrets', mounts), 'tmpfs');
    assert.equal(filesystemTypeOf('/run/disk/secrets', mounts), 'xfs');
    assert.equal(filesystemTypeOf('/run/diskette', mounts), 'tmpfs');
    assert.equal(filesystemTypeOf('/run/my dir/x', mounts), 'tmpfs');
    assert.equal(filesystemTypeOf('/var/lib', mounts), 'ext4');
    assert.equal(filesystemTypeOf('/x', join(scratch(), 'none')), null);
  });
});

describe('declared secrets', () => {
  test('missing and differing secrets are named with the command that fixes them', async () => {
    const file = join(scratch(), 'declared.json');
    writeFileSync(
      file,
      JSON.stringify({
        secrets: {
          db: { path: '/run/drover/secrets/db', owner: 'postgres', group: null, mode: '0400' },
          api: { path: '/run/drover/secrets/api', owner: null, group: null, mode: '0440' },
          ok: { path: '/run/drover/secrets/ok', owner: null, group: null, mode: null },
        },
      }),
    );
    const declared = readDeclaredSecrets(file);
    const set = [
      { name: 'api', path: '/srv/api', owner: null, group: null, mode: 0o400, version: 1, ciphertext: '' },
      { name: 'ok', path: '/run/drover/secrets/ok', owner: 'x', group: null, mode: 0o600, version: 1, ciphertext: '' },
    ];
    assert.deepEqual(declaredSecretProblems(declared, set, 'web-1'), [
      'declared secret "db" (/run/drover/secrets/db) was not set for this agent: run `drover secret set db --agent web-1 --path /run/drover/secrets/db --owner postgres --mode 0400`',
      'secret "api" was set with path /srv/api (declared /run/drover/secrets/api), mode 0400 (declared 0440): set it again with the declared values',
    ]);
    writeFileSync(file, JSON.stringify({ secrets: { db: { path: 'relative' } } }));
    assert.throws(() => readDeclaredSecrets(file), /cannot use the declared secrets file .*declared\.json: secrets\.db\.path must be an absolute path/);
  });
});

describe('the runner', () => {
  const ID = '22222222-2222-4222-8222-222222222222';
  const STORE_PATH = '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system' as StorePath;

  async function run(secrets: SecretOrder[], extra: { secretsOnly?: boolean }, state: string, identityFile: string): Promise<JournalEntry[]> {
    const dir = deploymentDir(state, ID);
    const profile = join(state, 'profiles', 'system');
    writeOrder(dir, {
      deployment: { id: ID, index: 1, storePath: STORE_PATH, rollbackScript: null, cache: null, secrets, ...extra },
      agent: 'web-1',
      profile,
      cache: null,
      server: 'http://127.0.0.1:9',
      system: 'x86_64-linux',
      identityFile,
    });
    const order = JSON.parse(readFileSync(files.order(dir), 'utf8')) as Parameters<typeof writeOrder>[1];
    const journal = new Journal(dir, ID);
    await runDeployment({ dir, order, journal, token: undefined, cancel: new AbortController().signal, phase: 'waiting' });
    const all: JournalEntry[] = [];
    new JournalReader(files.events(dir), { deploymentId: ID }).drain((e) => all.push(...e));
    return all;
  }

  function outcome(entries: JournalEntry[]) {
    const last = entries.at(-1);
    assert.ok(last?.type === 'deployment.finished', 'the deployment finished');
    return last;
  }

  test('a tampered secret fails the deployment before anything is fetched; the profile is untouched', async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const out = scratch();
    const good = await secret('good', 'fine', id.recipient, { path: join(out, 'good') });
    const entries = await run(
      [good, { ...good, name: 'bad', path: join(out, 'bad'), ciphertext: good.ciphertext.slice(0, -8) + 'AAAAAAA=' }],
      {},
      state,
      id.file,
    );
    const end = outcome(entries);
    assert.equal(end.status, 'Failed');
    assert.match(
      end.reason ?? '',
      /^DROVER_ERR_AGENT_SECRET: secret "bad" \(version 1\) cannot be decrypted: its ciphertext is damaged or was tampered with .*; the profile was not changed$/,
    );
    const text = entries.flatMap((e) => (e.type === 'deployment.log' ? e.lines.map((l) => l.text) : []));
    assert.ok(!text.some((l) => l.startsWith('$ ')), `no command ran:\n${text.join('\n')}`);
    assert.deepEqual(readdirSync(out), [], 'no secret was written');
    assert.equal(existsSync(join(state, 'profiles', 'system')), false);
  });

  test('a secrets-only order writes the secrets and succeeds without touching the profile', async () => {
    const state = scratch();
    const id = loadIdentity(defaultIdentityFile(state));
    const out = scratch();
    const entries = await run([await secret('db', 'only-secrets', id.recipient, { path: join(out, 'db') })], { secretsOnly: true }, state, id.file);
    const end = outcome(entries);
    assert.equal(end.status, 'Succeeded');
    assert.equal(end.activePath, null);
    assert.equal(readFileSync(join(out, 'db'), 'utf8'), 'only-secrets');
    const text = entries.flatMap((e) => (e.type === 'deployment.log' ? e.lines.map((l) => l.text) : [])).join('\n');
    assert.match(text, /secrets-only deployment: the profile stays at nothing/);
    assert.doesNotMatch(text, /\$ |only-secrets/);
    assert.equal(existsSync(join(state, 'profiles', 'system')), false);
  });
});
