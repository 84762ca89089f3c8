/**
 * A Decoder (decode.ts) from a TypeBox schema, for clients that may load
 * TypeBox (the CLI, the tests): the value checked against the schema — the
 * same one the server answers with — or a DroverError
 * (DROVER_ERR_BAD_RESPONSE) naming the first path that did not match. The
 * schema is compiled on first use.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { Decoder } from './decode.js';
import { DroverError } from './errors.js';

export function schemaDecoder<T extends TSchema>(schema: T): Decoder<Static<T>> {
  let check: TypeCheck<T> | undefined;
  return (value, path = '') => {
    check ??= TypeCompiler.Compile(schema);
    if (check.Check(value)) return value;
    const first = check.Errors(value).First();
    throw new DroverError(
      'DROVER_ERR_BAD_RESPONSE',
      `unexpected payload at ${path}${!first || first.path === '' ? '/' : first.path}: ${first?.message ?? 'schema mismatch'}`,
    );
  };
}
