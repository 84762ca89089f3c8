/**
 * A failed write to the agent's state directory, in words an operator can
 * act on: which directory, what the system said (ENOSPC, EDQUOT, EROFS, …)
 * and what to do — the reason a deployment is reported Failed with when the
 * agent or the runner cannot record it (DROVER_ERR_AGENT_STATE_UNWRITABLE).
 */
import { ERRORS } from '@drover/protocol/wire';

const CODE = 'DROVER_ERR_AGENT_STATE_UNWRITABLE';

function errnoOf(err: unknown): { code: string | null; message: string } {
  if (!(err instanceof Error)) return { code: null, message: String(err) };
  const code = 'code' in err && typeof err.code === 'string' ? err.code : null;
  return { code, message: err.message };
}

function cause(code: string | null, message: string): string {
  switch (code) {
    case 'ENOSPC':
      return 'is full (ENOSPC)';
    case 'EDQUOT':
      return 'is over its disk quota (EDQUOT)';
    case 'EROFS':
      return 'is on a read-only filesystem (EROFS)';
    case 'EACCES':
    case 'EPERM':
      return `is not writable by the agent's user (${code})`;
    default:
      return `cannot be written: ${message}`;
  }
}

/** E.g. "the agent's state directory /x is full (ENOSPC): Free space on … (DROVER_ERR_AGENT_STATE_UNWRITABLE)". */
export function describeWriteFailure(err: unknown, stateDir: string): string {
  const { code, message } = errnoOf(err);
  return `the agent's state directory ${stateDir} ${cause(code, message)}: ${ERRORS[CODE].hint} (${CODE})`;
}

/** Runs `write`; on failure returns the error (a thrown non-Error wrapped in one) instead of throwing it. */
export function tryWrite(write: () => void): Error | null {
  try {
    write();
    return null;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}
