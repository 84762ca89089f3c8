/**
 * Why a wire frame fails its schema, in TypeBox's words: the first error's
 * path and message. Loaded by wire-codec.ts only when a frame fails its
 * generated check, so a process that only ever sees valid frames (an idle
 * agent) never loads TypeBox.
 */
import type { TSchema } from '@sinclair/typebox';
import { Errors } from '@sinclair/typebox/errors';
import { AgentMessage, ServerMessage } from './messages.js';

const UNIONS = { agent: AgentMessage, server: ServerMessage } as const;

/**
 * `at PATH: MESSAGE` for a frame of a known `type` that its check rejected.
 * @public (wire-codec.ts requires this module lazily, which knip does not follow)
 */
export function explainFrame(direction: keyof typeof UNIONS, tag: string, value: unknown): string {
  const variant = (UNIONS[direction].anyOf as TSchema[]).find(
    (v) => (v as unknown as { properties: { type: { const: string } } }).properties.type.const === tag,
  );
  const first = variant ? Errors(variant, [], value).First() : undefined;
  return `at ${!first || first.path === '' ? '/' : first.path}: ${first?.message ?? 'schema mismatch'}`;
}
