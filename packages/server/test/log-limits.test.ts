/**
 * Big logs, on SQLite and PostgreSQL: slow readers of a log stream cost the
 * server a bounded amount of memory (backpressure), the JSON log comes in
 * pages that hold every line exactly once, and a deployment's stored log is
 * cut at the configured size with one line saying so, its outcome still
 * recorded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { LogLine } from '@drover/protocol';
import { appendLog } from '../src/deployments/repository.js';
import { assertError } from './api-suite.js';
import { AgentSocket } from './fake-agent.js';
import { sleep } from '@drover/test-support';
import { api, backendCases, nowIso, startTestServer, storePath, type TestServer } from './support.js';

const MAX_LOG_BYTES = 10_000;

/** `count` lines of `width` characters from seq `from`, as an agent sends them. */
function lines(from: number, count: number, width = 100): LogLine[] {
  const time = nowIso();
  return Array.from({ length: count }, (_, i) => {
    const seq = from + i;
    return { seq, time, stream: 'stdout', text: `line ${String(seq).padStart(6, '0')} `.padEnd(width, 'x') };
  });
}

/** Opens a log stream over a raw socket that never reads what the server sends. */
function stalledReader(t: TestServer, id: string, token: string): Promise<Socket> {
  const { port } = new URL(t.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET /api/v1/deployments/${id}/log HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${token}\r\naccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

for (const { backend, skip } of await backendCases()) {
  describe(`big logs over ${backend}`, { skip }, () => {
    let t: TestServer;
    let activate: string;
    let agentToken: string;
    let agentId: string;
    const sockets: AgentSocket[] = [];

    before(async () => {
      t = await startTestServer(backend, { server: { maxLogBytes: MAX_LOG_BYTES } });
      activate = (await t.mint('activate')).token;
      agentToken = (await t.mint('agent', { agent: 'big-1' })).token;
      const row = await t.db.selectFrom('agents').select('id').where('name', '=', 'big-1').executeTakeFirstOrThrow();
      agentId = row.id;
    });
    after(async () => {
      for (const s of sockets) s.close();
      await t.close();
    });

    /** A new deployment of big-1; the agent is offline, so it stays Pending unless a test speaks for the agent. */
    async function deployment(): Promise<string> {
      const res = await api(t, 'POST', '/api/v1/activate', { token: activate, body: { agents: { 'big-1': storePath('big') } } });
      assert.equal(res.status, 201, res.text);
      return res.json.agents['big-1'].id as string;
    }

    /** Stores lines straight through the repository (no limit in the way), `chunk` per call. */
    async function store(id: string, all: readonly LogLine[], chunk = 1000): Promise<void> {
      for (let i = 0; i < all.length; i += chunk) assert.ok(await appendLog(t.db, agentId, id, all.slice(i, i + chunk), Number.MAX_SAFE_INTEGER));
    }

    test('five readers that never read a 100,000-line log: the server queues at most a little per stream, not the log', { timeout: 120_000 }, async () => {
      const id = await deployment();
      const total = 100_000;
      const width = 200;
      await store(id, lines(0, total, width));
      const logBytes = total * width;

      const streams: ServerResponse[] = [];
      const onRequest = (req: { url?: string | undefined }, res: ServerResponse) => {
        if (req.url?.endsWith(`/deployments/${id}/log`)) streams.push(res);
      };
      t.server.app.server.on('request', onRequest);
      const heapBefore = process.memoryUsage();
      const readers = await Promise.all(Array.from({ length: 5 }, () => stalledReader(t, id, activate)));
      try {
        // Until every stream stopped growing: with backpressure they stall once the socket is full.
        let last = -1;
        for (let stable = 0, rounds = 0; stable < 5 && rounds < 100; rounds++) {
          await sleep(200);
          const now = streams.reduce((n, s) => n + s.writableLength + (s.socket?.bytesWritten ?? 0), 0);
          stable = streams.length === 5 && now === last ? stable + 1 : 0;
          last = now;
        }
        assert.equal(streams.length, 5);
        const queued = streams.map((s) => s.writableLength);
        const heap = process.memoryUsage();
        const growth = heap.heapUsed + heap.external - (heapBefore.heapUsed + heapBefore.external);
        const note = `queued per stream ${JSON.stringify(queued)} bytes, heap+external grew ${growth} bytes, log ${logBytes} bytes`;
        // Without backpressure each stream queues the whole log (~20 MB) minus what the kernel took.
        for (const q of queued) assert.ok(q <= 256 * 1024, note);
        assert.ok(growth < 2 * logBytes, note);
      } finally {
        t.server.app.server.off('request', onRequest);
        for (const r of readers) r.destroy();
      }
    });

    test('the JSON log in pages: forward with next, backward from the tail with previous, every line once and in order', async () => {
      const id = await deployment();
      const total = 2500;
      await store(id, lines(0, total, 40), 700);
      const seen: number[] = [];
      let cursor: number | null = -1;
      let pages = 0;
      while (cursor !== null && pages < 10) {
        const page = await api(t, 'GET', `/api/v1/deployments/${id}/log?after=${cursor}&limit=1000`, { token: activate });
        assert.equal(page.status, 200, page.text);
        assert.ok(page.json.lines.length <= 1000);
        seen.push(...page.json.lines.map((l: { seq: number }) => l.seq));
        assert.equal(page.json.previous, pages === 0 ? null : page.json.lines[0].seq);
        cursor = page.json.next as number | null;
        pages++;
      }
      assert.equal(pages, 3);
      assert.deepEqual(
        seen,
        Array.from({ length: total }, (_, i) => i),
      );

      const back: number[][] = [];
      let url = `/api/v1/deployments/${id}/log?tail=true&limit=1000`;
      for (let i = 0; i < 10; i++) {
        const page = await api(t, 'GET', url, { token: activate });
        assert.equal(page.status, 200, page.text);
        back.unshift(page.json.lines.map((l: { seq: number }) => l.seq));
        assert.equal(page.json.next, back.length === 1 ? null : page.json.lines.at(-1).seq);
        if (page.json.previous === null) break;
        url = `/api/v1/deployments/${id}/log?before=${page.json.previous}&limit=1000`;
      }
      assert.deepEqual(
        back.map((p) => p.length),
        [500, 1000, 1000],
      );
      assert.deepEqual(back.flat(), seen);

      // Without a page size, the first 1000 lines; at most 5000 per page.
      const first = await api(t, 'GET', `/api/v1/deployments/${id}/log`, { token: activate });
      assert.equal(first.json.lines.length, 1000);
      assert.equal(first.json.next, 999);
      assertError(await api(t, 'GET', `/api/v1/deployments/${id}/log?limit=5001`, { token: activate }), 'DROVER_ERR_VALIDATION');
      assertError(await api(t, 'GET', `/api/v1/deployments/${id}/log?after=3&before=9`, { token: activate }), 'DROVER_ERR_VALIDATION');
    });

    test('past the limit the stored log ends with one line saying where it was cut; later lines are dropped, the outcome is recorded', async () => {
      const id = await deployment();
      const r = await AgentSocket.register(t.wsUrl, agentToken, 'big-1');
      sockets.push(r.socket);
      const socket = r.socket;
      assert.equal((await socket.next('deploy')).deployment.id, id);
      socket.send({ type: 'deployment.started', id, time: nowIso() });
      // 100 lines of 100 bytes fill the 10,000 bytes exactly; line 100 is the first one past it.
      for (let from = 0; from < 300; from += 60) socket.send({ type: 'deployment.log', id, lines: lines(from, 60) });
      // A replay after a reconnect, and lines after the cut: nothing more is stored.
      socket.send({ type: 'deployment.log', id, lines: lines(0, 120) });
      socket.send({ type: 'deployment.log', id, lines: [{ seq: 400, time: nowIso(), stream: 'stdout', text: 'tiny' }] });
      socket.send({ type: 'deployment.finished', id, time: nowIso(), status: 'Succeeded', reason: null, activePath: null });
      assert.equal((await socket.next('deployment.ack')).id, id);

      const log = await api(t, 'GET', `/api/v1/deployments/${id}/log?limit=5000`, { token: activate });
      assert.equal(log.status, 200, log.text);
      assert.equal(log.json.deployment.status, 'Succeeded');
      const stored: { seq: number; stream: string; text: string }[] = log.json.lines;
      assert.equal(stored.length, 101);
      assert.deepEqual(
        stored.slice(0, 100).map((l) => l.seq),
        Array.from({ length: 100 }, (_, i) => i),
      );
      const cut = stored[100];
      assert.ok(cut);
      assert.equal(cut.seq, 100);
      assert.equal(cut.stream, 'agent');
      assert.match(cut.text, /cut at 10000 bytes/);
      assert.match(cut.text, /DROVER_MAX_LOG_BYTES/);
    });
  });
}
