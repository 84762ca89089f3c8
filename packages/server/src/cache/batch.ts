/**
 * The body of a `drover push` batch (`POST /api/v1/caches/NAME/paths`): many
 * small store paths in one request.
 *
 *     u32 LE  length of the JSON header
 *     JSON    {"compression": "zstd"|"xz"|"none", "paths": [PathInfo + "fileSize"]}
 *     bytes   the NAR files, back to back, in the order of "paths"
 *
 * Paths come in dependency order (a path may reference one before it). The
 * body is bounded (`MAX_BATCH_BYTES`), so it is read whole; each NAR is then
 * verified like a single upload.
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { DroverError, parseStorePath, SafeInteger, StorePathSchema } from '@drover/protocol';
import type { NarCompression } from '@drover/nix';
import type { UploadClaim } from './service.js';

/** Largest batch body; larger paths go one request each. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** Most paths in one batch. */
const MAX_BATCH_PATHS = 256;

export const PathInfoSchema = Type.Object(
  {
    storePath: StorePathSchema,
    narHash: Type.String({ maxLength: 100 }),
    narSize: SafeInteger({ minimum: 0 }),
    references: Type.Array(Type.String({ maxLength: 250 }), { maxItems: 10_000 }),
    deriver: Type.Union([Type.String({ maxLength: 250 }), Type.Null()]),
    ca: Type.Union([Type.String({ maxLength: 300 }), Type.Null()]),
    sigs: Type.Array(Type.String({ maxLength: 300 }), { maxItems: 32 }),
  },
  { additionalProperties: false },
);

const BatchHeaderSchema = Type.Object(
  {
    compression: Type.Union([Type.Literal('zstd'), Type.Literal('xz'), Type.Literal('none')]),
    paths: Type.Array(
      Type.Composite([PathInfoSchema, Type.Object({ fileSize: Type.Integer({ minimum: 1, maximum: MAX_BATCH_BYTES }) })], { additionalProperties: false }),
      {
        minItems: 1,
        maxItems: MAX_BATCH_PATHS,
      },
    ),
  },
  { additionalProperties: false },
);
const batchCheck = TypeCompiler.Compile(BatchHeaderSchema);

export interface Batch {
  readonly compression: NarCompression;
  readonly entries: readonly { readonly claim: UploadClaim; readonly body: Readable }[];
}

/** Splits a batch body into its paths' claims and NAR streams; refuses anything malformed. */
export function parseBatch(body: Buffer): Batch {
  const invalid = (why: string) => new DroverError('DROVER_ERR_VALIDATION', `the push batch is malformed: ${why}`);
  if (body.length < 4) throw invalid('shorter than its header length');
  const headerEnd = 4 + body.readUInt32LE(0);
  if (headerEnd > body.length) throw invalid('the header runs past the body');
  let header: unknown;
  try {
    header = JSON.parse(body.subarray(4, headerEnd).toString('utf8'));
  } catch {
    throw invalid('the header is not JSON');
  }
  if (!batchCheck.Check(header))
    throw invalid('the header must be {compression, paths: [{storePath, narHash, narSize, references, deriver, ca, sigs, fileSize}]}');
  const total = header.paths.reduce((a, p) => a + p.fileSize, headerEnd);
  if (total !== body.length) throw invalid(`the NAR sizes add up to ${total - headerEnd} bytes, but ${body.length - headerEnd} follow the header`);
  let at = headerEnd;
  const entries = header.paths.map(({ fileSize, ...info }) => {
    const nar = body.subarray(at, (at += fileSize));
    return { claim: { ...info, storePath: parseStorePath(info.storePath) }, body: Readable.from([nar]) };
  });
  return { compression: header.compression, entries };
}
