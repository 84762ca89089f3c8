/**
 * The Nix binary-cache primitives against real Nix: nix base-32 round trips
 * and store-path hashes, narinfo parse/format, fingerprints and ed25519
 * signatures that Nix's own key verifies (and a key Nix generated signs
 * byte-identically), and NAR serialisation identical to `nix-store --dump`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  dumpNar,
  fingerprint,
  formatNarinfo,
  formatNixHash,
  fromNixBase32,
  generateSigningKey,
  HashingCounter,
  narFileName,
  parseNarFileName,
  parseNarinfo,
  parseNixHash,
  parsePublicKey,
  parseSecretKey,
  signNarinfo,
  toNixBase32,
  verifyNarinfoSig,
} from '../src/index.js';
import { isStorePath } from '@drover/protocol';

/** The fields of `nix path-info --json PATH` this file reads (Nix 2.x prints an array of one object). */
function pathInfoOf(stdout: string): { narHash: string; narSize: number; signatures: string[] } {
  const parsed: unknown = JSON.parse(stdout);
  const first: unknown = Array.isArray(parsed) ? parsed[0] : undefined;
  assert.ok(typeof first === 'object' && first !== null && 'narHash' in first && 'narSize' in first && 'signatures' in first, stdout);
  const { narHash, narSize, signatures } = first;
  assert.ok(typeof narHash === 'string' && typeof narSize === 'number' && Array.isArray(signatures), stdout);
  const sigs: unknown[] = signatures;
  return { narHash, narSize, signatures: sigs.filter((sig) => typeof sig === 'string') };
}
import { needsNix } from './needs-nix.js';

describe('nix base-32', () => {
  test('round trips any length', () => {
    for (const len of [0, 1, 5, 20, 32, 64]) {
      const b = randomBytes(len);
      assert.deepEqual(fromNixBase32(toNixBase32(b), len), b);
    }
  });
  test('matches nix-hash --to-base32', needsNix, () => {
    const hex = createHash('sha256').update('drover').digest('hex');
    const nix = execFileSync('nix-hash', ['--type', 'sha256', '--to-base32', hex]).toString().trim();
    assert.equal(toNixBase32(Buffer.from(hex, 'hex')), nix);
    assert.equal(formatNixHash(parseNixHash(`sha256:${hex}`)), `sha256:${nix}`);
    assert.deepEqual(parseNixHash(`sha256-${Buffer.from(hex, 'hex').toString('base64')}`), Buffer.from(hex, 'hex'));
  });
  test('refuses bad characters and overflow', () => {
    assert.throws(() => fromNixBase32('e'.repeat(52), 32), /not a nix base-32 character/);
    assert.throws(() => fromNixBase32('z'.repeat(52), 32), /overflows/);
    assert.throws(() => parseNixHash('md5:abc'), /not a sha256 hash/);
  });
});

const SAMPLE = `StorePath: /nix/store/isqkmhxxvqv7jsd0vdmcfj2z4g0b0qxz-nixos-system-test
URL: nar/093lhl2r0dv2z4v3kq7lyb8b1xyrl9r9i8d4hq2p7b1v0cx1awr9.nar.xz
Compression: xz
FileHash: sha256:093lhl2r0dv2z4v3kq7lyb8b1xyrl9r9i8d4hq2p7b1v0cx1awr9
FileSize: 312
NarHash: sha256:13rwzbk9r27y7zsyq4lwyhf5a9vh7gl8m0qgqn5dsw8hv5cxwbw8
NarSize: 792
References: 56wlj1sl2zchs8xwwnc0k4zwmf0s1cbv-dep isqkmhxxvqv7jsd0vdmcfj2z4g0b0qxz-nixos-system-test
Deriver: 0mna5w9d2b0d6sww0kzyl0gxqf8bsr5m-nixos-system-test.drv
Sig: test-cache-1:tvdm
`;

describe('narinfo', () => {
  test('parses and formats back', () => {
    const info = parseNarinfo(SAMPLE);
    assert.equal(info.compression, 'xz');
    assert.equal(info.narSize, 792);
    assert.deepEqual(info.references, ['56wlj1sl2zchs8xwwnc0k4zwmf0s1cbv-dep', 'isqkmhxxvqv7jsd0vdmcfj2z4g0b0qxz-nixos-system-test']);
    assert.equal(formatNarinfo(info), SAMPLE);
    assert.equal(narFileName(info.fileHash, 'xz'), '093lhl2r0dv2z4v3kq7lyb8b1xyrl9r9i8d4hq2p7b1v0cx1awr9.nar.xz');
    assert.deepEqual(parseNarFileName('093lhl2r0dv2z4v3kq7lyb8b1xyrl9r9i8d4hq2p7b1v0cx1awr9.nar.zst')?.compression, 'zstd');
    assert.equal(parseNarFileName('../etc/passwd'), null);
  });
  test('refuses what it cannot trust', () => {
    assert.throws(() => parseNarinfo(SAMPLE.replace('NarSize: 792', 'NarSize: -1')), { code: 'DROVER_ERR_NARINFO_INVALID' });
    assert.throws(() => parseNarinfo(SAMPLE.replace('StorePath: /nix/store/', 'StorePath: /tmp/')), { code: 'DROVER_ERR_NARINFO_INVALID' });
    assert.throws(() => parseNarinfo(SAMPLE.replace('Compression: xz', 'Compression: bzip2')), { code: 'DROVER_ERR_UNSUPPORTED_COMPRESSION' });
    assert.throws(() => parseNarinfo(SAMPLE.replace('References: ', 'References: ../x ')), { code: 'DROVER_ERR_NARINFO_INVALID' });
    assert.throws(() => parseNarinfo('x'.repeat(70_000)), { code: 'DROVER_ERR_NARINFO_INVALID' });
  });
});

describe('signing', () => {
  test('sign, verify, refuse a tampered fingerprint or an unknown key', () => {
    const key = generateSigningKey('drover-test-1');
    const info = parseNarinfo(SAMPLE);
    const sig = signNarinfo(key, info);
    assert.match(sig, /^drover-test-1:[A-Za-z0-9+/]{86}==$/);
    const pub = parsePublicKey(key.publicKey);
    assert.ok(verifyNarinfoSig(sig, info, [pub]));
    assert.ok(!verifyNarinfoSig(sig, { ...info, narSize: 793 }, [pub]));
    assert.ok(!verifyNarinfoSig(sig, info, [parsePublicKey(generateSigningKey('drover-test-1').publicKey)]));
    assert.equal(parseSecretKey(key.secret).publicKey, key.publicKey);
    assert.match(fingerprint(info), /^1;\/nix\/store\/isqk.*;sha256:13rw.*;792;\/nix\/store\/56wl.*-dep,\/nix\/store\/isqk/);
  });

  test('a key from nix-store --generate-binary-cache-key signs exactly as Nix does', needsNix, () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-nix-sign-'));
    try {
      execFileSync('nix-store', ['--generate-binary-cache-key', 'nixkey-1', join(dir, 'sk'), join(dir, 'pk')]);
      const key = parseSecretKey(readFileSync(join(dir, 'sk'), 'utf8'));
      assert.equal(key.publicKey, readFileSync(join(dir, 'pk'), 'utf8').trim());
      const file = join(dir, 'hello');
      execFileSync('bash', ['-c', `echo drover-$RANDOM > ${file}`]);
      const path = execFileSync('nix-store', ['--add', file]).toString().trim();
      execFileSync('nix', ['store', 'sign', '--key-file', join(dir, 'sk'), path]);
      assert.ok(isStorePath(path), path);
      const pi = pathInfoOf(execFileSync('nix', ['path-info', '--json', path]).toString());
      const ours = signNarinfo(key, { storePath: path, narHash: parseNixHash(pi.narHash), narSize: pi.narSize, references: [] });
      assert.ok(pi.signatures.includes(ours), `${ours} in ${pi.signatures.join(', ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('NAR serialisation', () => {
  test('identical to nix-store --dump for files, executables, symlinks and directories', needsNix, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-nar-'));
    try {
      execFileSync('bash', [
        '-c',
        `cd ${dir} && mkdir -p t/sub t/Z && printf hi > t/a && printf '#!/bin/sh\\n' > t/sub/x && chmod +x t/sub/x && ln -s ../a t/sub/l && head -c 300000 /dev/urandom > t/big && : > t/empty`,
      ]);
      for (const target of [join(dir, 't'), join(dir, 't', 'a'), join(dir, 't', 'sub', 'l')]) {
        const expected = execFileSync('nix-store', ['--dump', target], { maxBuffer: 1 << 24 });
        const sink = new HashingCounter();
        for await (const chunk of dumpNar(target)) sink.update(chunk as Buffer);
        assert.equal(sink.bytes, expected.length, target);
        assert.deepEqual(sink.digest(), createHash('sha256').update(expected).digest());
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
