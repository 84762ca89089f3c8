/**
 * An agent that connects to another replica takes over: the replica holding
 * its older connection closes it with 4409 (the bus's agents-connected
 * event), and a fleet reconnecting there at once is announced in a few
 * events, not one notification per agent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_WS_PATH, CLOSE_CODES } from '@drover/protocol';
import { AgentSocket } from './fake-agent.js';
import { backendCases, startTestServer } from './support.js';
import type { BusEvent } from '../src/bus/bus.js';

const postgres = (await backendCases()).find((c) => c.backend === 'postgres');

describe('an agent moving to another replica (PostgreSQL)', { skip: postgres?.skip ?? 'no PostgreSQL case' }, () => {
  test('the old replica closes its connections with 4409; twenty agents moving at once are announced together', async () => {
    const a = await startTestServer('postgres');
    const b = await a.replica();
    const sockets: AgentSocket[] = [];
    try {
      const names = Array.from({ length: 20 }, (_, i) => `mover-${i}`);
      const tokens = await Promise.all(names.map(async (name) => (await a.mint('agent', { agent: name })).token));
      for (const [i, name] of names.entries()) sockets.push((await AgentSocket.register(a.wsUrl, tokens[i] ?? '', name)).socket);
      const heard: BusEvent[] = [];
      const unsubscribe = a.server.context.bus.subscribe((event) => {
        if (event.kind === 'agents-connected') heard.push(event);
      });
      const bUrl = b.url.replace(/^http/, 'ws') + AGENT_WS_PATH;
      const moved = await Promise.all(names.map((name, i) => AgentSocket.register(bUrl, tokens[i] ?? '', name)));
      sockets.push(...moved.map((m) => m.socket));
      for (const old of sockets.slice(0, names.length)) {
        const closed = await old.closedWithin();
        assert.equal(closed.code, CLOSE_CODES.replaced, closed.reason);
      }
      unsubscribe();
      const announced = heard.flatMap((e) => (e.kind === 'agents-connected' ? e.agents.map((x) => x.agentId) : []));
      assert.equal(new Set(announced).size, names.length, 'every agent that moved was announced');
      assert.ok(heard.length < names.length, `${heard.length} events for ${names.length} agents`);
    } finally {
      for (const s of sockets) s.close();
      await b.close();
      await a.close();
    }
  });
});
