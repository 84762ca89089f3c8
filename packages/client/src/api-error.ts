/**
 * The one error class of Drover's API clients: the status, code, message,
 * hint and details of a failed request — the server's own when it answered
 * with its error body, a DROVER_ERR_UNREACHABLE or DROVER_ERR_BAD_RESPONSE
 * from the table otherwise, so every client can say what to do next.
 */
import { DroverError, ERRORS, parseErrorBody, type ReceivedErrorBody } from '@drover/protocol/light';

export type ApiErrorDetail = NonNullable<ReceivedErrorBody['details']>[number];

/** What an ApiError is made from: a received error body, or one made on this side. */
export interface ApiErrorBody {
  readonly code: string;
  readonly message: string;
  readonly hint?: string | undefined;
  readonly details?: readonly ApiErrorDetail[] | undefined;
}

export class ApiError extends Error {
  /** The HTTP status; 0 when no answer came. */
  readonly status: number;
  /** A `DROVER_ERR_*` code (a newer server may send one this client's table does not know). */
  readonly code: string;
  readonly hint: string;
  readonly details: readonly ApiErrorDetail[];

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.hint = body.hint ?? '';
    this.details = body.details ?? [];
  }

  /** The same error with `what` was being done put before its message ("pushing /nix/store/…: …"). */
  during(what: string): ApiError {
    return new ApiError(this.status, { code: this.code, message: `${what}: ${this.message}`, hint: this.hint, details: this.details });
  }
}

/** The ApiError for a failed response, whether or not its body is Drover's error body. */
export async function errorOfResponse(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  const body = parseErrorBody(text);
  if (body) return new ApiError(res.status, body);
  const excerpt = text.trim().slice(0, 300);
  return new ApiError(res.status, {
    code: 'DROVER_ERR_BAD_RESPONSE',
    message: `the server answered ${res.status} ${res.statusText}`.trim() + (excerpt ? `: ${excerpt}` : ''),
    hint: ERRORS.DROVER_ERR_BAD_RESPONSE.hint,
  });
}

/** The ApiError for a request that got no answer at all (`fetch` rejected). */
export function unreachableError(base: string, err: unknown): ApiError {
  return new ApiError(0, {
    code: 'DROVER_ERR_UNREACHABLE',
    message: `cannot reach the Drover server at ${base || 'this origin'}: ${causeOf(err)}`,
    hint: ERRORS.DROVER_ERR_UNREACHABLE.hint,
  });
}

/** An ApiError from a DroverError raised on this side (e.g. a payload that did not decode). */
export function apiErrorOf(err: DroverError, status = 0): ApiError {
  return new ApiError(status, err.toBody());
}

/** Node's fetch hides the reason (ECONNREFUSED, …) in `cause`. */
function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause: unknown = err.cause;
  return cause instanceof Error ? cause.message : err.message;
}
