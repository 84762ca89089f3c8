/**
 * Errors of the API client (api-error.ts, client.ts): the server's code,
 * message, hint and details survive; a body that is not Drover's becomes
 * DROVER_ERR_BAD_RESPONSE with the status; no answer at all becomes
 * DROVER_ERR_UNREACHABLE; a payload that fails its decoder is refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeDeployment, ERRORS, parseErrorBody } from '@drover/protocol/light';
import { ApiError, DroverClient, errorOfResponse } from '../src/index.js';

const body = {
  code: 'DROVER_ERR_INVALID_DEPLOY_SPEC',
  message: 'deploy.json has 1 problem',
  hint: 'fix it',
  details: [{ path: '/agents/web-1', code: 'DROVER_ERR_INVALID_STORE_PATH', message: 'not a store path' }],
};

describe('parseErrorBody', () => {
  test('keeps code, message, hint and details', () => {
    assert.deepEqual(parseErrorBody(JSON.stringify(body)), body);
  });
  test('is null for what is not a Drover error body', () => {
    for (const text of ['', '<html>502</html>', '{"message":"no code"}', '[]', 'null', '{"code":1,"message":"x"}'])
      assert.equal(parseErrorBody(text), null, text);
  });
});

describe('errorOfResponse', () => {
  test('an error body keeps the hint and the code, with the status', async () => {
    const e = await errorOfResponse(new Response(JSON.stringify(body), { status: 400 }));
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 400);
    assert.equal(e.code, body.code);
    assert.equal(e.message, body.message);
    assert.equal(e.hint, 'fix it');
    assert.deepEqual(e.details, body.details);
  });
  test("a proxy's page is DROVER_ERR_BAD_RESPONSE with the status and an excerpt", async () => {
    const e = await errorOfResponse(new Response('<h1>Bad Gateway</h1>', { status: 502, statusText: 'Bad Gateway' }));
    assert.equal(e.status, 502);
    assert.equal(e.code, 'DROVER_ERR_BAD_RESPONSE');
    assert.match(e.message, /502 Bad Gateway: <h1>Bad Gateway<\/h1>/);
    assert.equal(e.hint, ERRORS.DROVER_ERR_BAD_RESPONSE.hint);
  });
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('DroverClient.request', () => {
  test('sends the token and JSON, and returns the decoded answer', async () => {
    const { server, url } = await serve((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ auth: req.headers.authorization, url: req.url, got: JSON.parse(text) as unknown }));
      });
    });
    try {
      const client = new DroverClient({ server: `${url}/`, token: 'tok' });
      const answer = await client.request<{ auth: string; url: string; got: unknown }>('POST', '/things', {
        json: { a: 1 },
        query: { q: 'x y', none: undefined, empty: '' },
      });
      assert.deepEqual(answer, { auth: 'Bearer tok', url: '/api/v1/things?q=x+y', got: { a: 1 } });
    } finally {
      server.close();
    }
  });

  test('an error answer throws ApiError with the hint; 401 calls onUnauthorized unless allowed', async () => {
    const { server, url } = await serve((_req, res) => {
      res.statusCode = 401;
      res.end(JSON.stringify({ code: 'DROVER_ERR_UNAUTHORIZED', message: 'no token', hint: ERRORS.DROVER_ERR_UNAUTHORIZED.hint }));
    });
    let told = 0;
    try {
      const client = new DroverClient({ server: url, onUnauthorized: () => told++ });
      await assert.rejects(
        client.request('GET', '/x'),
        (e: unknown) => e instanceof ApiError && e.status === 401 && e.code === 'DROVER_ERR_UNAUTHORIZED' && e.hint === ERRORS.DROVER_ERR_UNAUTHORIZED.hint,
      );
      assert.equal(told, 1);
      await assert.rejects(client.request('GET', '/x', { allowUnauthorized: true }), ApiError);
      assert.equal(told, 1);
    } finally {
      server.close();
    }
  });

  test('a payload that does not decode is DROVER_ERR_BAD_RESPONSE naming the field', async () => {
    const { server, url } = await serve((_req, res) => res.end(JSON.stringify({ id: 'x', status: 'Sleeping' })));
    try {
      await assert.rejects(
        new DroverClient({ server: url }).request('GET', '/d', { decode: decodeDeployment }),
        (e: unknown) => e instanceof ApiError && e.code === 'DROVER_ERR_BAD_RESPONSE' && e.message.includes('at /workspace'),
      );
    } finally {
      server.close();
    }
  });

  test('no answer is DROVER_ERR_UNREACHABLE with the cause', async () => {
    const { server, url } = await serve(() => undefined);
    await new Promise((resolve) => server.close(resolve));
    await assert.rejects(
      new DroverClient({ server: url }).request('GET', '/x'),
      (e: unknown) =>
        e instanceof ApiError && e.status === 0 && e.code === 'DROVER_ERR_UNREACHABLE' && e.message.startsWith(`cannot reach the Drover server at ${url}: `),
    );
  });
});
