/**
 * Admission of agent sockets, shared by every route an agent opens its
 * socket on (ours and the Cachix agent's): a replica that holds as many as it
 * may (hub `admitsSocket`) answers the upgrade 503 DROVER_ERR_AGENTS_FULL with
 * a Retry-After of 1–5 s, spread so that the refused do not return together.
 * It runs after the token check (a stranger learns nothing of the load).
 * The refusals are not request failures (http/errors.ts): one warning a
 * minute says how many there were.
 */
import { randomInt } from 'node:crypto';
import type { preHandlerAsyncHookHandler } from 'fastify';
import { DroverError, ERRORS } from '@drover/protocol';
import type { ServerContext } from '../../context.js';
import { WarningThrottle } from '../../logger.js';

/** Seconds a refused agent is told to wait: at least, and at most. */
export const AGENTS_FULL_RETRY_SECONDS = { min: 1, max: 5 } as const;

export function admitAgentSocket(ctx: Pick<ServerContext, 'hub' | 'log'>): preHandlerAsyncHookHandler {
  let refused = 0;
  // Refusals are told in one warning a minute at most, with how many there were.
  const warning = new WarningThrottle(60_000);
  return async (_request, reply) => {
    if (ctx.hub.admitsSocket()) return;
    refused++;
    if (warning.due()) {
      warning.said();
      ctx.log.warn(
        { refused, agents: ctx.hub.size, hint: ERRORS.DROVER_ERR_AGENTS_FULL.hint },
        'agent connections refused (503 DROVER_ERR_AGENTS_FULL): this server process holds as many agent sockets as its open-files limit allows',
      );
      refused = 0;
    }
    reply.header('retry-after', String(randomInt(AGENTS_FULL_RETRY_SECONDS.min, AGENTS_FULL_RETRY_SECONDS.max + 1)));
    throw new DroverError('DROVER_ERR_AGENTS_FULL', 'this server process holds as many agent sockets as it may and takes no more for now');
  };
}
