/**
 * Admission of agent sockets, shared by every route an agent opens its
 * socket on (ours and the Cachix agent's): a replica that takes no more
 * (hub `refusal`) answers the upgrade 503 with a Retry-After, spread so
 * that the refused do not return together — DROVER_ERR_AGENTS_FULL (1–5 s)
 * when it holds as many as its open-files limit allows, DROVER_ERR_AGENTS_UNEVEN
 * (1–2 s) when, as a worker of `--workers N`, it holds more than its share
 * (cluster-share.ts). It runs after the token check (a stranger learns
 * nothing of the load). The refusals are not request failures
 * (http/errors.ts): one warning a minute says how many a full replica refused;
 * evening out is routine and says nothing.
 */
import { randomInt } from 'node:crypto';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { DroverError, ERRORS } from '@drover/protocol';
import type { Logger } from 'pino';
import type { AgentHub } from '../../hub/agent-hub.js';
import { WarningThrottle } from '../../logger.js';

/** Seconds a refused agent is told to wait: at least, and at most. */
export const AGENTS_FULL_RETRY_SECONDS = { min: 1, max: 5 } as const;
/** Seconds an agent refused by a worker holding more than its share is told to wait: another worker likely takes it at once. */
export const AGENTS_UNEVEN_RETRY_SECONDS = { min: 1, max: 2 } as const;

function retryAfter(seconds: { readonly min: number; readonly max: number }): string {
  return String(randomInt(seconds.min, seconds.max + 1));
}

export function admitAgentSocket(ctx: { readonly hub: Pick<AgentHub, 'refusal' | 'size'>; readonly log: Logger }): preHandlerAsyncHookHandler {
  let refused = 0;
  // Refusals are told in one warning a minute at most, with how many there were.
  const warning = new WarningThrottle(60_000);
  return async (_request, reply) => {
    const refusal = ctx.hub.refusal();
    if (refusal === null) return;
    if (refusal === 'uneven') {
      reply.header('retry-after', retryAfter(AGENTS_UNEVEN_RETRY_SECONDS));
      throw new DroverError('DROVER_ERR_AGENTS_UNEVEN', 'this worker holds more agents than its share; connect again and another worker takes this one');
    }
    refused++;
    if (warning.due()) {
      warning.said();
      ctx.log.warn(
        { refused, agents: ctx.hub.size, hint: ERRORS.DROVER_ERR_AGENTS_FULL.hint },
        'agent connections refused (503 DROVER_ERR_AGENTS_FULL): this server process holds as many agent sockets as its open-files limit allows',
      );
      refused = 0;
    }
    reply.header('retry-after', retryAfter(AGENTS_FULL_RETRY_SECONDS));
    throw new DroverError('DROVER_ERR_AGENTS_FULL', 'this server process holds as many agent sockets as it may and takes no more for now');
  };
}
