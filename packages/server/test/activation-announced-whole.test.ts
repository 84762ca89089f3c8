/**
 * A large activation is announced on the bus as its id (deployments/service.ts, bus.ts), not as a list of every
 * deployment: each replica reads its own agents' part (hub/agent-hub.ts). Over SQLite (one process: its own copy of the
 * event must not send again) and PostgreSQL with a second replica holding some of the agents: every connected agent
 * gets its deployment exactly once, and the read of an activation's part (`pendingOrdersOfActivation`) gives the
 * same orders whichever way it reads.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AGENT_WS_PATH, type ServerMessage } from '@drover/protocol';
import { declareAgent } from '../src/agents/repository.js';
import { pendingOrdersOfActivation } from '../src/deployments/repository.js';
import type { BusEvent } from '../src/bus/bus.js';
import type { RunningServer } from '../src/index.js';
import { AgentSocket } from './fake-agent.js';
import { api, backendCases, startTestServer, storePath } from './support.js';

/** Past the service's LISTED_DEPLOYMENTS (1000): announced whole. */
const FLEET = 1001;
/** Long enough for a second copy of a frame to arrive if one were sent. */
const SETTLE_MS = 400;

function deploysIn(messages: readonly ServerMessage[]): number {
  return messages.filter((m) => m.type === 'deploy').length;
}

for (const { backend, skip } of await backendCases()) {
  describe(`an activation of ${FLEET} agents announced whole over ${backend}`, { skip }, () => {
    test('every connected agent gets its deployment once, on the replica that created it and on another', async () => {
      const t = await startTestServer(backend);
      const other: RunningServer | null = backend === 'postgres' ? await t.replica() : null;
      const sockets: AgentSocket[] = [];
      try {
        const names = Array.from({ length: FLEET }, (_, i) => `whole-${String(i).padStart(4, '0')}`);
        for (const name of names) await declareAgent(t.db, t.defaultWorkspaceId, name);
        // Two agents here, two on the other replica (on SQLite all four here); the rest never connected.
        const connected = names.slice(0, 4);
        for (const [i, name] of connected.entries()) {
          const url = other && i >= 2 ? other.url.replace(/^http/, 'ws') + AGENT_WS_PATH : t.wsUrl;
          sockets.push((await AgentSocket.register(url, (await t.mint('agent', { agent: name })).token, name)).socket);
        }
        const heard: BusEvent[] = [];
        const listening = other ?? t.server;
        const unsubscribe = listening.context.bus.subscribe((event) => {
          if (event.kind === 'deploy') heard.push(event);
        });
        const path = storePath('whole');
        const activate = (await t.mint('activate')).token;
        const res = await api(t, 'POST', '/api/v1/activate?cacheCheck=false', {
          token: activate,
          body: { agents: Object.fromEntries(names.map((n) => [n, path])) },
        });
        assert.equal(res.status, 201, res.text);
        const created = res.json as { activationId: string; agents: Record<string, { id: string }> };
        for (const [i, socket] of sockets.entries()) {
          const got = await socket.next('deploy');
          assert.equal(got.deployment.id, created.agents[connected[i] ?? '']?.id, `${connected[i]} got its own deployment`);
        }
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        for (const [i, socket] of sockets.entries()) assert.equal(deploysIn(socket.pending()), 0, `${connected[i]} got it once`);
        unsubscribe();
        const announced = heard.find((e) => e.kind === 'deploy' && e.activation !== undefined);
        assert.ok(announced?.kind === 'deploy', 'the event named the activation');
        assert.deepEqual(announced.activation, { id: created.activationId, deployments: FLEET });
        assert.equal(announced.deployments.length, 0, 'and listed no deployment');

        // Its part for some agents: a chunk of agents at a time through the (agent, status) index, or the whole activation filtered.
        const some = await t.db.selectFrom('agents').select('id').where('name', 'in', names.slice(0, 3)).execute();
        const ids = new Set(some.map((a) => a.id));
        const byIndex = await pendingOrdersOfActivation(t.db, created.activationId, ids, FLEET);
        const scanned = await pendingOrdersOfActivation(t.db, created.activationId, ids, 1);
        assert.equal(byIndex.size, 3);
        assert.deepEqual([...scanned.entries()].sort(), [...byIndex.entries()].sort());
        for (const order of byIndex.values()) assert.equal(order.order.storePath, path);
      } finally {
        for (const s of sockets) s.close();
        await other?.close();
        await t.close();
      }
    });
  });
}
