/**
 * Route schemas compiled when a route is first called instead of at
 * start-up. Fastify compiles every route's validators (Ajv) and response
 * serializers (fast-json-stringify) as the routes are added: about half of
 * a server process's start-up CPU (1.7 s → 0.8 s to ready here), paid again
 * by each worker of `--workers N` — which a fleet reconnecting after a
 * restart waits for — and by every server a test starts.
 *
 * These factories wrap Fastify's own (the same compilers, the same options
 * and shared schemas): each returns a function that compiles on its first
 * call, then calls the compiled one. A validator keeps what Fastify reads
 * of Ajv's function: `errors` after a call, and `schemaEnv` (read before the
 * first call; reading it compiles). A schema that cannot compile then fails
 * its route's first request (500) instead of the start-up; the test
 * `lazy-schemas.test.ts` starts the server with every schema compiled at
 * start-up (`compileSchemasAtStart`), so a broken one fails there.
 */
import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;

/** What Fastify hands a compiler for one route part or response: the schema and where it is used. */
type RouteSchema = object;
/** A factory as Fastify calls it: the shared schemas and the server's options in, a compiler per route part out. */
type Build<F> = (externalSchemas: unknown, options: unknown) => (route: RouteSchema) => F;

interface Validator {
  (data: unknown, context?: unknown): unknown;
  errors?: unknown;
  schemaEnv?: unknown;
}
type Serializer = (data: unknown) => string;

/** Ajv through Fastify's own factory, each route part's validator compiled at its first use. */
function lazyValidators(build: Build<Validator>): Build<Validator> {
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      let compiled: Validator | undefined;
      const get = (): Validator => (compiled ??= compile(route));
      const validate: Validator = (data, context) => {
        const fn = get();
        const result = fn(data, context);
        validate.errors = fn.errors;
        return result;
      };
      Object.defineProperty(validate, 'schemaEnv', { get: () => get().schemaEnv });
      return validate;
    };
  };
}

/** fast-json-stringify through Fastify's own factory, each response's serializer compiled at its first use. */
function lazySerializers(build: Build<Serializer>): Build<Serializer> {
  return (externalSchemas, options) => {
    const compile = build(externalSchemas, options);
    return (route) => {
      let compiled: Serializer | undefined;
      return (data) => (compiled ??= compile(route))(data);
    };
  };
}

/** Fastify's own factories, as it builds them when given none. */
const FASTIFY_FACTORIES = {
  validators: () => ValidatorSelector() as unknown as Build<Validator>,
  serializers: () => SerializerSelector() as unknown as Build<Serializer>,
};

/** The `schemaController` option of an app whose schemas compile at first use (`factories`: Fastify's own unless a test gives others). */
export function lazySchemaController(factories = FASTIFY_FACTORIES): NonNullable<FastifyServerOptions['schemaController']> {
  return {
    compilersFactory: {
      buildValidator: lazyValidators(factories.validators()) as unknown as Factories['buildValidator'],
      buildSerializer: lazySerializers(factories.serializers()) as unknown as Factories['buildSerializer'],
    },
  };
}
