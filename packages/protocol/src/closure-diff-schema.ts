/**
 * The shape of a closure diff — what changed between the store path an agent
 * ran and the one a deployment brings (closure-diff.ts computes it) — as a
 * TypeBox schema, shared by the API (`Deployment.diff`) and the agent's
 * `deployment.diff` frame. Bounded so a diff always fits in one frame.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, SafeInteger, StorePathSchema } from './schemas.js';
import { MAX_DIFF_ENTRIES, MAX_DIFF_NAME_CHARS, MAX_DIFF_VERSIONS } from './closure-diff.js';

const NameText = Type.String({ maxLength: MAX_DIFF_NAME_CHARS });
const PackageSchema = Type.Object({ name: NameText, version: NameText });

export const ClosureDiffSchema = Type.Object({
  /** The agent's path it was computed against; null: the agent ran nothing (everything is added). */
  from: Nullable(StorePathSchema),
  to: StorePathSchema,
  /** Who computed it: the server from its built-in cache's references, or the agent after substitution. */
  source: Type.Union([Type.Literal('server'), Type.Literal('agent')]),
  added: Type.Array(PackageSchema, { maxItems: MAX_DIFF_ENTRIES }),
  removed: Type.Array(PackageSchema, { maxItems: MAX_DIFF_ENTRIES }),
  /** Packages whose versions differ: the versions only `from` has, and those only `to` has ('' is "no version"). */
  changed: Type.Array(
    Type.Object({
      name: NameText,
      from: Type.Array(NameText, { maxItems: MAX_DIFF_VERSIONS }),
      to: Type.Array(NameText, { maxItems: MAX_DIFF_VERSIONS }),
    }),
    { maxItems: MAX_DIFF_ENTRIES },
  ),
  /** Closure size of `to` minus that of `from` in bytes (null when either is unknown). */
  sizeDelta: Nullable(Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER })),
  sizeFrom: Nullable(SafeInteger()),
  sizeTo: Nullable(SafeInteger()),
});
export type ClosureDiff = Static<typeof ClosureDiffSchema>;
