/**
 * `/metrics` of `drover server --workers 2` answers for the whole server:
 * whichever worker a scrape reaches, the counters are the sum over both
 * workers (each one's own share before). No agents, no Nix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { tempDir, type TempDir } from '@drover/test-support';
import { createToken, makeBackend, startServer, type Backend, type ServerHandle } from '../support/drover.js';
import { freshHealth } from './harness.js';

/** GET on a new TCP connection (the cluster hands each to the next worker). */
function freshGet(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('request timed out')));
  });
}

/** The request count of one route and status in an exposition text. */
function requestCount(text: string, route: string): number {
  const re = new RegExp(`^drover_http_request_duration_seconds_count\\{[^}]*route="${route.replace(/[/.]/g, '\\$&')}"[^}]*\\} (\\d+)$`, 'gm');
  return [...text.matchAll(re)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('drover server --workers 2: /metrics', { timeout: 120_000 }, () => {
  let dir: TempDir | undefined;
  let backend: Backend | undefined;
  let server: ServerHandle | undefined;
  let admin: string;
  let url: string;
  before(async () => {
    dir = await tempDir('drover-workers-metrics-');
    backend = await makeBackend('sqlite', dir.path);
    server = await startServer(backend, ['--workers', '2']);
    admin = await createToken(backend, 'admin');
    url = server.url;
  });
  after(async () => {
    await server?.stop();
    await backend?.cleanup();
    await dir?.remove();
  });

  test('every scrape counts the requests both workers served', async () => {
    const HEALTH = 24;
    const replicas = new Set<string>();
    for (let i = 0; i < HEALTH; i++) replicas.add((await freshHealth(url)).replica);
    assert.equal(replicas.size, 2, 'the health requests reached both workers');

    const seen = new Map<number, number>();
    for (let i = 0; i < 6; i++) {
      const r = await freshGet(`${url}/metrics`, admin);
      assert.equal(r.status, 200, r.body);
      const count = requestCount(r.body, '/api/v1/health');
      seen.set(count, (seen.get(count) ?? 0) + 1);
      assert.match(r.body, /^drover_agents_connected 0$/m);
      assert.equal((r.body.match(/^drover_build_info\{/gm) ?? []).length, 1, 'the version is reported once, not once per worker');
    }
    assert.deepEqual([...seen.keys()], [HEALTH], `each scrape counts all ${HEALTH} health requests (counts seen: ${JSON.stringify([...seen])})`);
  });

  test('/metrics still needs an admin token', async () => {
    const r = await freshGet(`${url}/metrics`, 'drover_admin_nope_nope');
    assert.equal(r.status, 401);
  });
});
