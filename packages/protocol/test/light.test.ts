/**
 * The runtime-light entries (light.ts, wire.ts): nothing they load imports TypeBox, and
 * light's decoders (api-decoders.ts, sse-events.ts) decode exactly the types of
 * the TypeBox schemas in api.ts — checked at compile time — and accept what
 * those schemas accept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import {
  ActivateResponseSchema,
  ActivationViewSchema,
  decodeActivationView,
  AgentSchema,
  DeploymentLogSchema,
  DeploymentSchema,
  LogLineJsonSchema,
  decodeActivateResponse,
  decodeAgent,
  decodeDeployment,
  decodeDeploymentLog,
  decodeLogLine,
  decodeLogStreamLine,
  type Decoded,
} from '../src/index.js';

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the exact type-equality idiom: each T only carries A or B into a comparison
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(proof: Equal<A, B>) => proof;
same<Decoded<typeof decodeDeployment>, Static<typeof DeploymentSchema>>(true);
same<Decoded<typeof decodeAgent>, Static<typeof AgentSchema>>(true);
same<Decoded<typeof decodeLogLine>, Static<typeof LogLineJsonSchema>>(true);
same<Decoded<typeof decodeDeploymentLog>, Static<typeof DeploymentLogSchema>>(true);
same<Decoded<typeof decodeActivateResponse>, Static<typeof ActivateResponseSchema>>(true);
same<Decoded<typeof decodeActivationView>, Static<typeof ActivationViewSchema>>(true);

for (const entry of ['light.js', 'wire.js']) {
  test(`${entry} and everything it imports stay free of TypeBox`, () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /@sinclair\/typebox/, `${file} imports TypeBox`);
      for (const m of text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'|^import\s+'(\.[^']+)'/gm)) visit(resolve(dirname(file), (m[1] ?? m[2])!));
    };
    visit(join(dirname(fileURLToPath(import.meta.url)), '..', 'src', entry));
    assert.ok(seen.size > 5, `followed the imports (${seen.size} files)`);
  });
}

const deployment = {
  id: '0b7e1c52-7d0e-4a43-9f6a-1f2f3a4b5c6d',
  workspace: 'default',
  agent: 'web-1',
  index: 3,
  storePath: '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system',
  rollbackScript: null,
  status: 'Failed',
  reason: 'health check failed',
  activationId: '1b7e1c52-7d0e-4a43-9f6a-1f2f3a4b5c6d',
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:01.000Z',
  finishedAt: null,
  closureSize: 1234,
  createdBy: { kind: 'token', id: 'abcd', label: 'ci' },
  url: 'http://127.0.0.1:7700/w/default/deployments/0b7e1c52',
  diff: {
    from: '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system-a',
    to: '/nix/store/0123456789abcdfghijklmnpqrsvwxyz-system',
    source: 'server',
    added: [{ name: 'newlib', version: '0.5' }],
    removed: [],
    changed: [{ name: 'openssl', from: ['3.0.7'], to: ['3.0.8'] }],
    sizeDelta: -40,
    sizeFrom: 1000,
    sizeTo: 960,
  },
  dry: true,
  wouldRestart: { restart: ['sshd.service'], start: [], stop: ['old.service'], reload: [] },
  wave: 1,
  secretsOnly: false,
};

test('the activation view decodes as its schema checks it', () => {
  const counts = { Queued: 0, Pending: 0, InProgress: 0, Succeeded: 1, Failed: 1, Cancelled: 0, Superseded: 0, Held: 2 };
  const view = {
    deployments: [deployment],
    activation: {
      id: deployment.activationId,
      createdAt: deployment.createdAt,
      createdBy: null,
      selector: 'role=web',
      counts,
      unchanged: ['web-9'],
      url: 'http://127.0.0.1:7700/w/default/activations/1b7e1c52',
      rollout: {
        state: 'stopped',
        waves: [{ index: 0, label: 'web-1', agents: 1, counts, state: 'failed' }],
        currentWave: 0,
        maxParallel: null,
        maxFailures: '5%',
        failures: 1,
        pause: 0,
        onFailure: 'stop',
        reason: 'over budget',
        pauseUntil: null,
        rollbackActivationId: null,
      },
    },
  };
  assert.ok(Value.Check(ActivationViewSchema, view));
  assert.deepEqual(decodeActivationView(view), view);
  const missing: Partial<typeof counts> = { ...counts };
  delete missing.Held;
  assert.throws(() => decodeActivationView({ ...view, activation: { ...view.activation, counts: missing } }), /activation\/counts\/Held/);
  assert.ok(!Value.Check(ActivationViewSchema, { ...view, activation: { ...view.activation, counts: missing } }));
});

test('the decoders accept what the schemas accept, and refuse what they refuse', () => {
  assert.ok(Value.Check(DeploymentSchema, deployment));
  assert.deepEqual(decodeDeployment(deployment), deployment);
  const line = { seq: 4, time: '2026-01-01T00:00:02.000Z', stream: 'stdout', text: 'hello' };
  assert.ok(Value.Check(LogLineJsonSchema, line));
  assert.deepEqual(decodeLogStreamLine({ deployment: deployment.id, agent: 'web-1', ...line }), { deployment: deployment.id, agent: 'web-1', ...line });
  for (const bad of [
    { ...deployment, status: 'Sleeping' },
    { ...deployment, index: 1.5 },
    { ...deployment, createdBy: { kind: 'robot', id: 'x', label: 'x' } },
    { ...deployment, diff: { ...deployment.diff, source: 'guess' } },
    { ...deployment, wouldRestart: { restart: ['sshd.service'], start: [], stop: [] } },
  ]) {
    assert.equal(Value.Check(DeploymentSchema, bad), false);
    assert.throws(
      () => decodeDeployment(bad),
      (e: unknown) => e instanceof Error && e.message.includes('unexpected payload at /'),
    );
  }
  assert.throws(() => decodeLogLine({ ...line, stream: 'stdin' }), /at \/stream: expected one of stdout, stderr, agent/);
});
