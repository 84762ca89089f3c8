/**
 * The rules for the narinfo fields an uploader chooses (narinfo-fields.ts):
 * content addresses in exactly Nix's forms (checked against what real Nix
 * reports when it is installed), no control characters anywhere, and
 * `formatNarinfo` refusing to write a value that would add a line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkContentAddress, checkDeriver, checkPathMetadata, formatNarinfo, parseNarinfo, toNixBase32 } from '../src/index.js';
import { needsNix } from './needs-nix.js';

const invalid = { code: 'DROVER_ERR_NARINFO_INVALID' };

describe('content addresses', () => {
  test('Nix’s forms in each hash encoding are accepted', () => {
    const forms = [
      `text:sha256:${toNixBase32(randomBytes(32))}`,
      `fixed:sha256:${toNixBase32(randomBytes(32))}`,
      `fixed:r:sha256:${randomBytes(32).toString('hex')}`,
      `fixed:r:sha512:${randomBytes(64).toString('base64')}`,
      `fixed:sha1:${randomBytes(20).toString('hex')}`,
      `fixed:md5:${toNixBase32(randomBytes(16))}`,
    ];
    for (const ca of forms) assert.equal(checkContentAddress(ca), ca);
  });

  test('anything else is refused', () => {
    const sha = toNixBase32(randomBytes(32));
    const refused = [
      '',
      'hello',
      `sha256:${sha}`,
      `text:sha1:${randomBytes(20).toString('hex')}`,
      `fixed:git:sha1:${randomBytes(20).toString('hex')}`,
      `fixed:r:sha256-${randomBytes(32).toString('base64')}`,
      `fixed:r:sha256:${sha.slice(1)}`,
      `fixed:r:sha256:${'z'.repeat(52)}`,
      `fixed:r:sha256:${randomBytes(32).toString('hex').toUpperCase()}`,
      `fixed:r:sha256:${sha}\nURL: nar/x.nar`,
      `fixed:r:sha256:${sha} `,
      `FIXED:r:sha256:${sha}`,
    ];
    for (const ca of refused) assert.throws(() => checkContentAddress(ca), invalid, JSON.stringify(ca));
  });

  test('what real Nix reports for flat and recursive fixed-output paths is accepted', needsNix, () => {
    const dir = mkdtempSync(join(tmpdir(), 'drover-ca-'));
    try {
      const file = join(dir, 'content');
      writeFileSync(file, `drover ${randomBytes(8).toString('hex')}\n`);
      for (const args of [
        ['--add-fixed', 'sha256', file],
        ['--add', file],
      ]) {
        const path = execFileSync('nix-store', args).toString().trim();
        const info = JSON.parse(execFileSync('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', path]).toString()) as {
          ca?: string;
        }[];
        const ca = info[0]?.ca;
        assert.ok(ca, `${path} has a content address`);
        assert.equal(checkContentAddress(ca), ca);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('path metadata', () => {
  const hash = toNixBase32(randomBytes(20));
  test('deriver is a .drv base name; references are store path base names, deduplicated and sorted', () => {
    assert.equal(checkDeriver(`${hash}-x.drv`), `${hash}-x.drv`);
    assert.throws(() => checkDeriver(`${hash}-x`), invalid);
    assert.throws(() => checkDeriver(`/nix/store/${hash}-x.drv`), invalid);
    const meta = checkPathMetadata({ references: [`${hash}-b`, `${hash}-a`, `${hash}-b`], deriver: null, ca: null, sigs: [] });
    assert.deepEqual(meta.references, [`${hash}-a`, `${hash}-b`]);
    for (const bad of [`${hash}-a\nURL: x`, `${hash}-.`, `${hash}-a\t`]) {
      assert.throws(() => checkPathMetadata({ references: [bad], deriver: null, ca: null, sigs: [] }), invalid, JSON.stringify(bad));
    }
    assert.throws(() => checkPathMetadata({ references: [], deriver: null, ca: null, sigs: ['k-1:abc=\nURL: x'] }), invalid);
  });

  test('formatNarinfo never writes a control character into a line', () => {
    const sample = parseNarinfo(
      `StorePath: /nix/store/${hash}-p\nURL: nar/${toNixBase32(randomBytes(32))}.nar\nCompression: none\nFileHash: sha256:${toNixBase32(randomBytes(32))}\nFileSize: 1\nNarHash: sha256:${toNixBase32(randomBytes(32))}\nNarSize: 1\nReferences: \n`,
    );
    assert.match(formatNarinfo(sample), /^StorePath: /);
    assert.throws(() => formatNarinfo({ ...sample, deriver: `${hash}-x.drv\nURL: nar/evil.nar` }), invalid);
    assert.throws(() => formatNarinfo({ ...sample, ca: 'x\ry' }), invalid);
  });
});
