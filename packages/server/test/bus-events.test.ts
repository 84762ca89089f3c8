/**
 * Bus events carry ids (deploy: the new deployments with their agents and the
 * ids they superseded), split under the NOTIFY size limit without losing
 * any, and are checked against their schema when they arrive from another
 * process.
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

  test('payloads are decoded against the event schema; anything else is refused', () => {
    const event: BusEvent = { kind: 'deploy', deployments: [{ id: 'd', agentId: 'a' }], superseded: ['s'] };
    assert.deepEqual(decodeBusEvent(JSON.parse(JSON.stringify(event))), event);
    assert.deepEqual(decodeBusEvent({ kind: 'resync' }), { kind: 'resync' });
    assert.equal(decodeBusEvent({ kind: 'deploy', agentIds: ['a'] }), null, 'the old shape without deployment ids');
    assert.equal(decodeBusEvent({ kind: 'nope' }), null);
    assert.equal(decodeBusEvent('deploy'), null);
  });
});
