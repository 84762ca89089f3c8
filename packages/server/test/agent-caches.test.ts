/**
 * RecentAgentCaches (cache/agents.ts), what the hub tells a connecting agent
 * in `registered`: a workspace's answer is read once and served again while
 * it is younger than its age limit, then read afresh; agentCaches itself
 * (what every deploy order carries) is never stale.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { agentCaches, RecentAgentCaches } from '../src/cache/agents.js';
import { DEFAULT_WORKSPACE, findWorkspace, setWorkspaceCache } from '../src/workspaces/repository.js';
import { backendCases, startTestServer, type TestServer } from './support.js';

const KEY = 'cache.example.org-1:9QYsNWHFsdVL3gGRJBSmBXVnADGr9xdwL1f0s1sUzxQ=';

for (const { backend, skip } of await backendCases()) {
  describe(`recent agent caches over ${backend}`, { skip }, () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer(backend, { schemaPrefix: 'drover_agent_caches_' });
    });
    after(() => t.close());

    test('an answer is served while young, read again once older than its age limit', async () => {
      const workspace = (await findWorkspace(t.db, DEFAULT_WORKSPACE)).id;
      const setCache = (substituter: string) => setWorkspaceCache(t.db, workspace, { substituter, publicKey: KEY });
      const substituter = async (read: Promise<Map<string, { substituter: string } | null>>) => (await read).get(workspace)?.substituter;
      await setCache('https://first.example.org');
      const recent = new RecentAgentCaches(t.db, 300);
      assert.equal(await substituter(recent.of([workspace])), 'https://first.example.org');
      await setCache('https://second.example.org');
      assert.equal(await substituter(recent.of([workspace, workspace])), 'https://first.example.org', 'young: not read again');
      assert.equal(await substituter(agentCaches(t.db, [workspace])), 'https://second.example.org', 'orders read it fresh');
      await new Promise((r) => setTimeout(r, 350));
      assert.equal(await substituter(recent.of([workspace])), 'https://second.example.org', 'older than 300 ms: read again');
    });
  });
}
