/**
 * Encoding and decoding of the agent websocket's frames (messages.ts has the
 * protocol and its schemas). Every frame is parsed and checked against its
 * message type's schema by the checks generated from those schemas
 * (frame-checks.generated.ts), so this module does not load TypeBox; only a
 * frame that fails its check loads it (frame-explain.ts), to say where and
 * why, as TypeBox's own validator would.
 */
import { createRequire } from 'node:module';
import type { AgentMessage, ServerMessage } from './messages.js';
import { AGENT_FRAME_CHECKS, SERVER_FRAME_CHECKS } from './frame-checks.generated.js';

type Explain = typeof import('./frame-explain.js');
let explainer: Explain | undefined;

/**
 * frame-explain.js, loaded synchronously on first need: the single-file
 * agent's bundler turns the free `require` into its bundled copy (the bundle
 * defines `require`); compiled files under node load it with require(esm).
 */
function explain(): Explain {
  explainer ??= (
    typeof require === 'function'
      ? // eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous lazy load that esbuild resolves into the bundle
        require('./frame-explain.js')
      : createRequire(import.meta.url)('./frame-explain.js')
  ) as Explain;
  return explainer;
}

export type DecodeResult<T> = { ok: true; message: T } | { ok: false; error: string };

/** A frame decoder for one direction: JSON, a known `type`, then that type's generated check. */
function decoder<T>(checks: ReadonlyMap<string, (value: unknown) => boolean>, direction: 'agent' | 'server') {
  return (data: string): DecodeResult<T> => {
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return { ok: false, error: `${direction} frame is not JSON` };
    }
    const tag = typeof value === 'object' && value !== null && 'type' in value ? value.type : undefined;
    const check = typeof tag === 'string' ? checks.get(tag) : undefined;
    if (typeof tag !== 'string' || !check) {
      const shown = typeof tag === 'string' && tag.length > 40 ? `${tag.slice(0, 40)}…` : tag;
      return { ok: false, error: `${direction} frame has unknown type ${JSON.stringify(shown)} (expected one of ${[...checks.keys()].join(', ')})` };
    }
    if (!check(value)) return { ok: false, error: `${direction} frame "${tag}" is invalid ${explain().explainFrame(direction, tag, value)}` };
    return { ok: true, message: value as T };
  };
}

/** Parses and validates one frame the agent sent. */
export const decodeAgentMessage = decoder<AgentMessage>(AGENT_FRAME_CHECKS, 'agent');
/** Parses and validates one frame the server sent. */
export const decodeServerMessage = decoder<ServerMessage>(SERVER_FRAME_CHECKS, 'server');

export function encodeMessage(message: AgentMessage | ServerMessage): string {
  return JSON.stringify(message);
}
