/**
 * openEventStream (event-stream.ts) against a real HTTP server: events in
 * order, a reconnect after the server ends the stream that sends the last
 * event id as Last-Event-ID, and a 4xx refusal that is fatal and keeps the
 * server's error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DroverClient, openEventStream, type SseMessage } from '../src/index.js';

test('reconnects with Last-Event-ID and stops when closed', async () => {
  const seenIds: (string | undefined)[] = [];
  const server = createServer((req, res) => {
    const last = req.headers['last-event-id'];
    seenIds.push(typeof last === 'string' ? last : undefined);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const from = last === undefined ? 0 : Number(last) + 1;
    res.end(`id: ${from}\nevent: line\ndata: {"seq":${from}}\n\nid: ${from + 1}\nevent: line\ndata: {"seq":${from + 1}}\n\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DroverClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  const messages: SseMessage[] = [];
  const opens: boolean[] = [];
  let drops = 0;
  const stream = openEventStream(
    client,
    '/log',
    {
      onOpen: (reconnected) => opens.push(reconnected),
      onDrop: () => drops++,
      onMessage: (m) => {
        messages.push(m);
        if (messages.length === 4) stream.close();
      },
    },
    { resume: true, maxDelayMs: 10 },
  );
  assert.equal(await stream.done, null);
  server.close();
  assert.deepEqual(
    messages.map((m) => [m.event, m.id, m.data]),
    [
      ['line', '0', '{"seq":0}'],
      ['line', '1', '{"seq":1}'],
      ['line', '2', '{"seq":2}'],
      ['line', '3', '{"seq":3}'],
    ],
  );
  assert.deepEqual(seenIds, [undefined, '1']);
  assert.deepEqual(opens, [false, true]);
  assert.equal(drops, 1);
});

test('a 404 is fatal: done gives the server error, no retry', async () => {
  let requests = 0;
  const server = createServer((_req, res) => {
    requests++;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'DROVER_ERR_DEPLOYMENT_NOT_FOUND', message: 'no such deployment', hint: 'list them' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DroverClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  const errors: [string, boolean][] = [];
  const stream = openEventStream(
    client,
    '/log',
    { onMessage: () => assert.fail('no events'), onError: (e, fatal) => errors.push([e.code, fatal]) },
    { maxDelayMs: 10 },
  );
  const error = await stream.done;
  server.close();
  assert.equal(error?.code, 'DROVER_ERR_DEPLOYMENT_NOT_FOUND');
  assert.equal(error.hint, 'list them');
  assert.deepEqual(errors, [['DROVER_ERR_DEPLOYMENT_NOT_FOUND', true]]);
  assert.equal(requests, 1);
});

test('closing on the last event of a finished body settles done (Node 20 fetch hangs a read after such an abort)', async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: status\ndata: {}\n\n');
    setTimeout(() => res.end('event: end\ndata: {}\n\n'), 50);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new DroverClient({ server: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  const events: string[] = [];
  const stream = openEventStream(client, '/log', {
    onMessage: (m) => {
      events.push(m.event);
      if (m.event === 'end') stream.close();
    },
  });
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timed out'), 5000).unref());
  assert.equal(await Promise.race([stream.done, timeout]), null);
  server.close();
  assert.deepEqual(events, ['status', 'end']);
});
