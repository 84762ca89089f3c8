/**
 * The `limit` phase: the same load processes against the bare `ws` server
 * of limit-server.ts (as many workers as BENCH_WORKERS), in the same run as
 * the Drover rows, so every fleet row can say how far it is from what this
 * machine allows right now: connect + hello + registered without a database,
 * and one `deploy` frame broadcast to every socket, twice (cold, then warm). Runs before the fan-out
 * and storm phases; they take their ratios from its figures.
 */
import { AGENTS, WORKERS } from './env.js';
import { fakeStorePath, measureDelivery, withFleet, type Delivery } from './fleet.js';
import { ms, percentile, type AddRow } from './table.js';

export interface LimitFigures {
  /** First connect → last `registered`. */
  readonly connectMs: number;
  /** Registered agents per second. */
  readonly rate: number;
  /** Server CPU per registration, µs. */
  readonly cpuPerAgentUs: number;
  /** POST → the last agent got the broadcast frame: the first broadcast of the run, and the second (warm). */
  readonly fanoutMs: number;
  readonly warmFanoutMs: number;
  /** Server CPU meanwhile, of the first and the second. */
  readonly fanoutCpuMs: number;
  readonly warmFanoutCpuMs: number;
}

/** "1.42× the bare-ws limit (…)" (a time: higher is worse), or "" when either side is missing. */
export function timesLimit(value: number, limit: number | undefined, what = 'ms'): string {
  return limit && Number.isFinite(value) && limit > 0 ? `${(value / limit).toFixed(2)}× the bare-ws limit (${ms(limit)} ${what})` : '';
}

export async function limitPhase(workDir: string, row: AddRow): Promise<LimitFigures> {
  let figures: LimitFigures | undefined;
  await withFleet(
    'limit',
    [],
    workDir,
    async (fleet) => {
      const { registered } = fleet;
      const rate = registered / (fleet.connectMs / 1000);
      const cpuPerAgentUs = (fleet.cpuConnect * 1000) / registered;
      const workers = WORKERS > 1 ? `${WORKERS} workers, summed` : 'one process';
      row(
        `[limit] connect + register ${AGENTS} agents`,
        ms(fleet.connectMs),
        'ms',
        `bare ws server, no database: ${registered}/${AGENTS} registered, ${rate.toFixed(0)} agents/s, server CPU ${cpuPerAgentUs.toFixed(0)} µs per agent (${workers}); ${fleet.handshakeNote}` +
          (fleet.failed > 0 ? `; ${fleet.failed} FAILED, first: ${fleet.firstError}` : ''),
      );
      // Twice: a fresh server's first broadcast runs cold code; the second is what a server that has run a while does.
      const broadcast = async (which: string): Promise<Delivery> => {
        const delivery = await measureDelivery(fleet, fakeStorePath(), Math.max(60_000, AGENTS));
        const missing = delivery.armed - delivery.arrivals.length;
        row(
          `[limit] POST → last agent got \`deploy\`${which}`,
          ms(delivery.lastMs),
          'ms',
          `one frame broadcast to every socket; p50 / p99 ${ms(percentile(delivery.arrivals, 50))} / ${ms(percentile(delivery.arrivals, 99))} ms; ` +
            `server CPU ${ms(delivery.cpuMs)} ms` +
            (missing > 0 ? `; ${missing} agents got NO deploy` : ''),
        );
        return delivery;
      };
      const cold = await broadcast('');
      const warm = await broadcast(', again (warm)');
      figures = {
        connectMs: fleet.connectMs,
        rate,
        cpuPerAgentUs,
        fanoutMs: cold.lastMs,
        fanoutCpuMs: cold.cpuMs,
        warmFanoutMs: warm.lastMs,
        warmFanoutCpuMs: warm.cpuMs,
      };
    },
    { limit: true },
  );
  if (!figures) throw new Error('the limit phase measured nothing');
  return figures;
}
