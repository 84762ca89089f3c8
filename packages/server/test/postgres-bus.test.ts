/**
 * The bus over PostgreSQL (bus/postgres-bus.ts): an event too big for one
 * notification reaches the other replica whole, its parts in order, though
 * they are sent in one statement.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backendCases, startTestServer } from './support.js';

const postgres = (await backendCases()).find((c) => c.backend === 'postgres');

describe('the PostgreSQL bus', { skip: postgres?.skip ?? 'no PostgreSQL case' }, () => {
  test('a 400-deployment event reaches the other replica whole and in order', async () => {
    const a = await startTestServer('postgres');
    const b = await a.replica();
    try {
      const deployments = Array.from({ length: 400 }, (_, i) => ({ id: `deployment-${i}`, agentId: `agent-${i}` }));
      const heard: string[] = [];
      let parts = 0;
      const all = new Promise<void>((resolve) => {
        b.context.bus.subscribe((event) => {
          if (event.kind !== 'deploy') return;
          parts++;
          heard.push(...event.deployments.map((d) => d.id));
          if (heard.length >= deployments.length) resolve();
        });
      });
      await a.server.context.bus.publish({ kind: 'deploy', deployments, superseded: [] });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`heard ${heard.length} of 400`)), 10_000)));
      await Promise.race([all, late]).finally(() => clearTimeout(timer));
      assert.ok(parts > 1, 'it was split');
      assert.deepEqual(
        heard,
        deployments.map((d) => d.id),
      );
    } finally {
      await b.close();
      await a.close();
    }
  });
});
