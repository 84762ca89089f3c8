/**
 * Bus events carry ids (deploy: the new deployments with their agents, or
 * the activation a large one announces whole, and the ids they superseded),
 * split under the NOTIFY size limit without losing any, and are checked
 * against their schema when they arrive from another process.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBusEvent, splitEvent, type BusEvent } from '../src/bus/bus.js';

describe('bus events', () => {
  test('a big deploy event splits into parts of at most maxIds ids that together hold every id', () => {
    const deployments = Array.from({ length: 7 }, (_, i) => ({ id: `d${i}`, agentId: `a${i}` }));
    const superseded = Array.from({ length: 5 }, (_, i) => `s${i}`);
    const parts = splitEvent({ kind: 'deploy', deployments, superseded }, 4);
    const ids = (e: BusEvent) => (e.kind === 'deploy' ? 2 * e.deployments.length + e.superseded.length : 0);
    for (const p of parts) assert.ok(ids(p) <= 4, JSON.stringify(p));
    assert.deepEqual(
      parts.flatMap((p) => (p.kind === 'deploy' ? p.deployments : [])),
      deployments,
    );
    assert.deepEqual(
      parts.flatMap((p) => (p.kind === 'deploy' ? p.superseded : [])),
      superseded,
    );
  });

  test('an activation announced whole stays in one part, the first, when the superseded ids it carries split', () => {
    const superseded = Array.from({ length: 9 }, (_, i) => `s${i}`);
    const activation = { id: 'activation-1', deployments: 100_000 };
    const parts = splitEvent({ kind: 'deploy', deployments: [], superseded, activation }, 4);
    assert.deepEqual(parts[0], { kind: 'deploy', deployments: [], superseded: [], activation });
    assert.equal(parts.filter((p) => p.kind === 'deploy' && p.activation !== undefined).length, 1);
    assert.deepEqual(
      parts.flatMap((p) => (p.kind === 'deploy' ? p.superseded : [])),
      superseded,
    );
    assert.equal(decodeBusEvent({ kind: 'deploy', deployments: [], superseded: [], activation: { id: 'a', deployments: -1 } }), null, 'a negative count');
    assert.deepEqual(decodeBusEvent(JSON.parse(JSON.stringify(parts[0]))), parts[0]);
  });

  test('agents connected together split under the NOTIFY limit by their encoded size, long hostnames included, none lost', () => {
    const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const agents = Array.from({ length: 400 }, (_, i) => ({
      agentId: uuid(i),
      connectionId: uuid(10_000 + i),
      ...(i % 3 === 0 ? {} : { hostname: (i % 3 === 1 ? 'h' : 'long-host-name-').repeat(i % 3 === 1 ? 8 : 17) }),
    }));
    const parts = splitEvent({ kind: 'agents-connected', agents }, 150);
    assert.ok(parts.length > 1, 'one notification cannot hold 400');
    for (const p of parts) assert.ok(Buffer.byteLength(JSON.stringify(p)) < 8000, `${Buffer.byteLength(JSON.stringify(p))} bytes`);
    assert.deepEqual(
      parts.flatMap((p) => (p.kind === 'agents-connected' ? p.agents : [])),
      agents,
    );
    assert.deepEqual(splitEvent({ kind: 'agents-connected', agents: agents.slice(0, 2) }, 150), [{ kind: 'agents-connected', agents: agents.slice(0, 2) }]);
  });

  test('payloads are decoded against the event schema; anything else is refused', () => {
    const event: BusEvent = { kind: 'deploy', deployments: [{ id: 'd', agentId: 'a' }], superseded: ['s'] };
    assert.deepEqual(decodeBusEvent(JSON.parse(JSON.stringify(event))), event);
    assert.deepEqual(decodeBusEvent({ kind: 'resync' }), { kind: 'resync' });
    assert.equal(decodeBusEvent({ kind: 'deploy', agentIds: ['a'] }), null, 'the old shape without deployment ids');
    assert.equal(decodeBusEvent({ kind: 'nope' }), null);
    assert.equal(decodeBusEvent('deploy'), null);
  });
});
