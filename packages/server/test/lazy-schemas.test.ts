/**
 * Route schemas compiled at first use (http/lazy-schemas.ts): nothing is
 * compiled when the app is ready; a route's first request compiles its
 * validator and serializer once, and they behave as Fastify's own —
 * coercion, defaults, Ajv's errors in the 400, fields the response schema
 * leaves out dropped. And the server with every route's schemas compiled at
 * start-up (as Fastify does by default) starts: no route carries a schema
 * that fails to compile, which the lazy server would only find at that
 * route's first request.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import { lazySchemaController } from '../src/http/lazy-schemas.js';
import { api, startTestServer } from './support.js';

/** Fastify's own factory, counting the route parts it compiles. */
function counting(factory: unknown, counter: { n: number }): () => (externalSchemas: unknown, options: unknown) => (route: object) => never {
  const build = factory as (externalSchemas: unknown, options: unknown) => (route: object) => never;
  return () => (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      counter.n++;
      return compile(route);
    };
  };
}

describe('route schemas compiled at first use', () => {
  const validators = { n: 0 };
  const serializers = { n: 0 };
  const app = Fastify({
    ajv: { customOptions: { coerceTypes: 'array', useDefaults: true } },
    schemaController: lazySchemaController({
      validators: counting(ValidatorSelector(), validators),
      serializers: counting(SerializerSelector(), serializers),
    }),
  });
  app.get(
    '/items',
    {
      schema: {
        querystring: { type: 'object', properties: { limit: { type: 'integer', default: 10 } }, additionalProperties: false },
        response: { 200: { type: 'object', properties: { limit: { type: 'integer' }, kind: { type: 'string' } } } },
      },
    },
    async (request) => ({ ...(request.query as object), kind: 'item', secret: 'left out by the response schema' }),
  );
  after(() => app.close());

  test('compiles nothing at start-up, each part once at its first use, and validates and serializes as Fastify does', async () => {
    await app.ready();
    assert.deepEqual([validators.n, serializers.n], [0, 0]);

    const first = await app.inject({ method: 'GET', url: '/items?limit=5' });
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json(), { limit: 5, kind: 'item' });
    assert.deepEqual([validators.n, serializers.n], [1, 1]);

    const defaulted = await app.inject({ method: 'GET', url: '/items' });
    assert.deepEqual(defaulted.json(), { limit: 10, kind: 'item' });

    const bad = await app.inject({ method: 'GET', url: '/items?limit=many' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ message: string }>().message, /querystring\/limit must be integer/);
    assert.deepEqual([validators.n, serializers.n], [1, 1]);
  });
});

describe('the server with every route schema compiled at start-up', () => {
  test('starts, and answers as the lazy server does', async () => {
    const t = await startTestServer('sqlite', { server: { compileSchemasAtStart: true } });
    try {
      const { token } = await t.mint('activate');
      assert.equal((await api(t, 'GET', '/api/v1/agents?limit=2', { token })).status, 200);
      assert.equal((await api(t, 'GET', '/api/v1/agents?limit=not-a-number', { token })).status, 400);
    } finally {
      await t.close();
    }
  });
});
