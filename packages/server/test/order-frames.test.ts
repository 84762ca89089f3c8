/**
 * The templated `deploy` frames (deployments/order-frames.ts): every frame is
 * the exact text `encodeMessage` gives for the same order, whatever varies
 * between agents (id, index, wantDiff, rollbackScript, deadlines, dry, the
 * cache, secrets), and decodes as a valid server message.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeServerMessage, encodeMessage, type CacheConfig, type DeploymentOrder } from '@drover/protocol';
import { DeployFrames, deployMessage, type OrderWithoutCache } from '../src/deployments/order-frames.js';

const path = (name: string) => `/nix/store/${'a'.repeat(32)}-${name}`;
const builtin: CacheConfig = { substituter: 'http://127.0.0.1:1/cache/main', publicKey: 'main:AAAA', builtin: true };
const external: CacheConfig = { substituter: 'https://cache.example.org', publicKey: 'ex:"quoted"\\key' };
const secret = { name: 's', path: '/run/s', owner: 'root', group: 'root', mode: 0o400, version: 1, ciphertext: 'YWdl' };

function orders(): { order: OrderWithoutCache; cache: CacheConfig | null; secrets: DeploymentOrder['secrets'] }[] {
  const out: { order: OrderWithoutCache; cache: CacheConfig | null; secrets: DeploymentOrder['secrets'] }[] = [];
  for (let i = 0; i < 40; i++) {
    const order: OrderWithoutCache = {
      id: randomUUID(),
      index: 1 + i * 997,
      storePath: path(i % 3 === 0 ? 'system' : 'other+name'),
      rollbackScript: i % 4 === 0 ? null : path('rollback'),
      ...(i % 5 === 0 ? { activationTimeoutMs: 60_000 } : {}),
      ...(i % 7 === 0 ? { confirmTimeoutMs: 30_000 } : {}),
      ...(i % 2 === 0 ? { wantDiff: true } : {}),
      ...(i % 6 === 0 ? { dry: true } : {}),
      ...(i % 11 === 0 ? { secretsOnly: true } : {}),
    };
    out.push({ order, cache: [null, builtin, external][i % 3] ?? null, secrets: i % 9 === 0 ? [{ ...secret, version: i + 1 }] : [] });
  }
  return out;
}

describe('templated deploy frames', () => {
  test('each frame is the text encodeMessage gives, and decodes', () => {
    const frames = new DeployFrames();
    const all = orders();
    // Twice: the second round comes from the templates the first one made.
    for (const round of [1, 2]) {
      for (const { order, cache, secrets } of all) {
        const expected = encodeMessage(deployMessage(order, cache, secrets));
        const text = frames.encode(order, cache, secrets);
        assert.equal(text, expected, `round ${round}, order ${order.index}`);
        const decoded = decodeServerMessage(text);
        assert.ok(decoded.ok, decoded.ok ? '' : `${decoded.error}: ${text}`);
      }
    }
  });

  test('a cache with the same fields as another but another object still gets its own text', () => {
    const frames = new DeployFrames();
    const order: OrderWithoutCache = { id: randomUUID(), index: 3, storePath: path('x'), rollbackScript: null };
    const first = frames.encode(order, { substituter: 'https://a.example', publicKey: 'a:1' }, []);
    const second = frames.encode(order, { substituter: 'https://b.example', publicKey: 'b:1' }, []);
    assert.notEqual(first, second);
    assert.equal(second, encodeMessage(deployMessage(order, { substituter: 'https://b.example', publicKey: 'b:1' }, [])));
  });
});
