/**
 * A refused upload whose body is still arriving gets its answer: the server
 * answers at once and reads the rest for a while before closing, so a client
 * still writing (Node's fetch, which `drover push` uses) reads the 4xx/5xx
 * instead of failing with EPIPE. Closing at once made the kernel reset the
 * connection, and a client whose next write came before it read the answer
 * (here: a body produced on a timer, as a NAR dumped and compressed is)
 * failed with `write EPIPE` in roughly one upload of five.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startTestServer, type TestServer } from './support.js';

/** A chunked body of `chunks` × 64 KiB, one chunk per timer tick. */
function slowBody(chunks: number): ReadableStream {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let sent = 0;
  const body = new Readable({
    read() {
      setTimeout(() => this.push(sent++ < chunks ? chunk : null), 1);
    },
  });
  return Readable.toWeb(body) as ReadableStream;
}

describe('a refused upload still being sent', () => {
  let t: TestServer;
  let push: string;
  before(async () => {
    t = await startTestServer('sqlite');
    await t.server.context.cache.createCache(t.defaultWorkspaceId, 'main');
    push = (await t.mint('push')).token;
  });
  after(() => t.close());

  test('is answered with the refusal every time (here: no x-drover-path-info header)', async () => {
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      try {
        const res = await fetch(`${t.url}/api/v1/caches/main/paths`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${push}`, 'content-type': 'application/x-nix-nar' },
          body: slowBody(16),
          duplex: 'half',
        });
        outcomes.push(`${res.status} ${((await res.json()) as { code: string }).code}`);
      } catch (err) {
        outcomes.push(`failed: ${String((err as Error).cause ?? err)}`);
      }
    }
    assert.deepEqual(new Set(outcomes), new Set(['400 DROVER_ERR_VALIDATION']), outcomes.join('\n'));
  });
});
