/**
 * Small structural decoders for JSON that crosses the wire, without TypeBox:
 * each checks a value's shape and returns it typed, or throws a DroverError
 * (DROVER_ERR_BAD_RESPONSE) naming the path that did not match. The web UI
 * uses them at run time; test/light.test.ts checks that what they decode
 * equals the TypeBox schemas' types, so the two descriptions cannot drift.
 */
import { DroverError } from './errors.js';

/** Checks `value` (found at `path`, a JSON pointer) and returns it typed. */
export type Decoder<T> = (value: unknown, path?: string) => T;
export type Decoded<D> = D extends Decoder<infer T> ? T : never;

function fail(path: string, expected: string, value: unknown): never {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw new DroverError('DROVER_ERR_BAD_RESPONSE', `unexpected payload at ${path || '/'}: expected ${expected}, got ${got}`);
}

export const string: Decoder<string> = (value, path = '') => (typeof value === 'string' ? value : fail(path, 'a string', value));

export const integer: Decoder<number> = (value, path = '') => (Number.isInteger(value) && typeof value === 'number' ? value : fail(path, 'an integer', value));

export const boolean: Decoder<boolean> = (value, path = '') => (typeof value === 'boolean' ? value : fail(path, 'a boolean', value));

export function oneOf<const T extends readonly string[]>(values: T): Decoder<T[number]> {
  return (value, path = '') => {
    const found = values.find((v) => v === value);
    return found ?? fail(path, `one of ${values.join(', ')}`, value);
  };
}

export function nullable<T>(decode: Decoder<T>): Decoder<T | null> {
  return (value, path) => (value === null ? null : decode(value, path));
}

export function array<T>(decode: Decoder<T>): Decoder<T[]> {
  return (value, path = '') => (Array.isArray(value) ? value.map((item, i) => decode(item, `${path}/${i}`)) : fail(path, 'an array', value));
}

export function record<T>(decode: Decoder<T>): Decoder<Record<string, T>> {
  return (value, path = '') => {
    if (!isObject(value)) return fail(path, 'an object', value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v, `${path}/${k}`)]));
  };
}

type Shape = Record<string, Decoder<unknown>>;
type Fields<S extends Shape> = { [K in keyof S]: Decoded<S[K]> };
type Optional<O extends Shape> = { [K in keyof O]?: Decoded<O[K]> };
type Flatten<T> = { [K in keyof T]: T[K] };

/** An object with the `required` fields and, when present, the `optional` ones; other fields are dropped. */
export function object<S extends Shape>(required: S): Decoder<Flatten<Fields<S>>>;
export function object<S extends Shape, O extends Shape>(required: S, optional: O): Decoder<Flatten<Fields<S> & Optional<O>>>;
export function object(required: Shape, optional: Shape = {}): Decoder<Record<string, unknown>> {
  return (value, path = '') => {
    if (!isObject(value)) return fail(path, 'an object', value);
    const out: Record<string, unknown> = {};
    for (const [key, decode] of Object.entries(required)) out[key] = decode(value[key], `${path}/${key}`);
    for (const [key, decode] of Object.entries(optional)) if (value[key] !== undefined) out[key] = decode(value[key], `${path}/${key}`);
    return out;
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
