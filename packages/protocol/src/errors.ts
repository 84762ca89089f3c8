/**
 * The one table of Drover's error codes.
 *
 * Every error a user can meet — from the HTTP API, the agent websocket or the
 * CLI — has a stable `DROVER_ERR_*` code, an HTTP status and a hint saying how
 * to fix it. The API answers `{code, message, hint, details?}`; docs/errors.md
 * lists every code and a test keeps the two in step.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly hint: string;
}

export const ERRORS = {
  DROVER_ERR_UNAUTHORIZED: {
    status: 401,
    hint: 'Send a valid token as "Authorization: Bearer TOKEN"; create one with `drover token create`.',
  },
  DROVER_ERR_TOKEN_REVOKED: {
    status: 401,
    hint: 'This token was revoked; create a new one with `drover token create` and update the client.',
  },
  DROVER_ERR_FORBIDDEN: {
    status: 403,
    hint: 'The token is valid but its kind does not allow this; use a token of the kind named in the message.',
  },
  DROVER_ERR_BAD_CREDENTIALS: {
    status: 401,
    hint: 'Check the user name and password; an admin can set a new password with `drover user password NAME`.',
  },
  DROVER_ERR_SESSION_EXPIRED: {
    status: 401,
    hint: 'The sign-in session expired or was ended; sign in again.',
  },
  DROVER_ERR_CSRF: {
    status: 403,
    hint: 'Requests made with the session cookie must come from the Drover UI and carry the X-Drover-CSRF header from GET /api/v1/session.',
  },
  DROVER_ERR_ROLE: {
    status: 403,
    hint: 'Your role in this workspace does not allow this; ask an admin for a stronger role (`drover user grant NAME ROLE --workspace W`).',
  },
  DROVER_ERR_TOO_MANY_ATTEMPTS: {
    status: 429,
    hint: 'Too many failed sign-ins for this user; wait a minute and try again.',
  },
  DROVER_ERR_USER_EXISTS: {
    status: 409,
    hint: 'User names are unique; pick another name or grant the existing user a role with `drover user grant`.',
  },
  DROVER_ERR_USER_NOT_FOUND: {
    status: 404,
    hint: 'List users with `drover user list`.',
  },
  DROVER_ERR_TOKEN_AGENT_MISMATCH: {
    status: 403,
    hint: 'This agent token is bound to another agent name; start the agent with that name or create a token for this one.',
  },
  DROVER_ERR_VALIDATION: {
    status: 400,
    hint: 'Fix the request so it matches the documented schema (see /api/v1/openapi.json).',
  },
  DROVER_ERR_INVALID_AGENT_NAME: {
    status: 400,
    hint: 'Agent names are 1-64 characters of letters, digits, "-", "_" and ".".',
  },
  DROVER_ERR_INVALID_WORKSPACE_NAME: {
    status: 400,
    hint: 'Workspace names are 1-64 characters of lowercase letters, digits and "-", starting with a letter or digit.',
  },
  DROVER_ERR_INVALID_STORE_PATH: {
    status: 400,
    hint: 'Use a full store path such as /nix/store/<32-character hash>-<name>, as printed by nix-build.',
  },
  DROVER_ERR_INVALID_DEPLOY_SPEC: {
    status: 400,
    hint: 'deploy.json must be {"agents": {"NAME": "/nix/store/…"}, "rollbackScript": {"SYSTEM": "/nix/store/…"}}; fix every problem listed in details.',
  },
  DROVER_ERR_INVALID_LABEL: {
    status: 400,
    hint: 'Labels are KEY=VALUE: keys 1-63 of letters, digits, ".", "_", "-", "/" (starting and ending with a letter or digit), values 1-63 of letters, digits, ".", "_", "-"; at most 64 per agent.',
  },
  DROVER_ERR_INVALID_SELECTOR: {
    status: 400,
    hint: 'A selector is requirements joined by ",": k=v, k!=v, k (has label k) or !k (has no label k), e.g. role=web,region!=eu.',
  },
  DROVER_ERR_UNKNOWN_AGENT: {
    status: 400,
    hint: 'An agent is known once it has connected with a token of this workspace; start `drover agent NAME` first or fix the name.',
  },
  DROVER_ERR_AGENT_NOT_FOUND: {
    status: 404,
    hint: 'List the agents of this workspace with `drover agents`.',
  },
  DROVER_ERR_AGENT_STATE_UNWRITABLE: {
    status: 507,
    hint: "Free space on (or fix the permissions of) the agent's state directory, then deploy again; the agent keeps running and reports what it could not record.",
  },
  DROVER_ERR_AGENT_SETUP: {
    status: 400,
    hint: 'Give the agent a state directory its user can write (--state-dir DIR) and usable --identity / --declared-secrets files, then start it again; `drover agent` exits with status 78 until then.',
  },
  DROVER_ERR_AGENT_CANNOT_DEPLOY: {
    status: 409,
    hint: 'Fix what the message names on the agent machine (install Nix 2.8 or newer on PATH; run as root, or pass --profile PATH in a directory the agent can write); the agent checks again at each deployment, no restart needed.',
  },
  DROVER_ERR_AGENT_SECRET: {
    status: 409,
    hint: 'Set the secret again with `drover secret set NAME --agent AGENT` (it encrypts to the recipient the agent has now), or fix its --owner/--path on the agent machine; the profile was not changed.',
  },
  DROVER_ERR_AGENT_REPLACED: {
    status: 409,
    hint: 'Two agents use one name: stop one of them or give each its own name (and token); the replaced agent tries again only after 10 minutes.',
  },
  DROVER_ERR_SECRET_NOT_FOUND: {
    status: 404,
    hint: 'List the secrets of this workspace with `drover secret list`.',
  },
  DROVER_ERR_INVALID_SECRET: {
    status: 400,
    hint: 'A secret needs a name of 1-64 letters, digits, ".", "_", "-", at least one target agent, an absolute path, owner/group names or ids, a mode of 0-7777 (octal) and ciphertext in age\'s binary format (base64); fix what the message names.',
  },
  DROVER_ERR_NO_RECIPIENT: {
    status: 409,
    hint: "The agent has not told the server its age recipient: upgrade it and start it once (it creates its identity in its state directory and sends the recipient in its hello); `drover agents --json` shows each agent's recipient.",
  },
  DROVER_ERR_RECIPIENT_CHANGED: {
    status: 409,
    hint: "The agent's age recipient is not the one the secret was encrypted to (its identity was re-created, or it changed meanwhile); run `drover secret set` again so it encrypts to the current recipients.",
  },
  DROVER_ERR_SECRET_LIMIT: {
    status: 413,
    hint: 'An agent receives its whole secret set with every deployment, in one websocket frame: keep each secret under 64 KiB, at most 64 secrets and 896 KiB of ciphertext per agent; split large files or move them out of secrets.',
  },
  DROVER_ERR_SECRET_PATH_CONFLICT: {
    status: 409,
    hint: 'Two secrets of one agent cannot share a file path; give one of them another --path, or remove the other with `drover secret rm NAME`.',
  },
  DROVER_ERR_DEPLOYMENT_NOT_FOUND: {
    status: 404,
    hint: 'List deployments with `drover deployments`; deployment ids are UUIDs.',
  },
  DROVER_ERR_WORKSPACE_NOT_FOUND: {
    status: 404,
    hint: 'List workspaces with `drover workspace list`, or create one with `drover workspace create NAME`.',
  },
  DROVER_ERR_WORKSPACE_EXISTS: {
    status: 409,
    hint: 'Workspace names are unique; pick another name.',
  },
  DROVER_ERR_TOKEN_NOT_FOUND: {
    status: 404,
    hint: 'List tokens with `drover token list`; use the ID column.',
  },
  DROVER_ERR_NOT_CANCELLABLE: {
    status: 409,
    hint: 'Only Queued, Pending and InProgress deployments can be cancelled; this one has already finished.',
  },
  DROVER_ERR_NOT_A_ROLLOUT: {
    status: 409,
    hint: 'Only an activation created with a "rollout" (deploy.json key, or --waves and the other rollout flags) can be paused, resumed or aborted.',
  },
  DROVER_ERR_ROLLOUT_STATE: {
    status: 409,
    hint: 'Pause a running rollout, resume a paused one, abort one that is running or paused; a completed, stopped or aborted rollout stays as it is.',
  },
  DROVER_ERR_WEBHOOK_NOT_FOUND: {
    status: 404,
    hint: 'List the webhooks of this workspace with `drover webhooks list`; use the ID column.',
  },
  DROVER_ERR_WEBHOOK_LIMIT: {
    status: 409,
    hint: 'A workspace holds at most 20 webhooks; remove one with `drover webhooks rm ID`, or subscribe an existing hook to more events.',
  },
  DROVER_ERR_INVALID_WEBHOOK_URL: {
    status: 400,
    hint: 'A webhook URL is an absolute http:// or https:// URL without a user name or password, e.g. https://hooks.example.com/drover.',
  },
  DROVER_ERR_NOT_FINISHED: {
    status: 409,
    hint: 'Wait for the deployment to finish (or cancel it) before re-running it.',
  },
  DROVER_ERR_CONFIRMATION: {
    status: 400,
    hint: 'Type the exact name of what is being deleted to confirm (the confirm parameter).',
  },
  DROVER_ERR_NOTHING_DEPLOYED: {
    status: 409,
    hint: 'This agent has no current store path yet; deploy one with `drover activate` first.',
  },
  DROVER_ERR_ROUTE_NOT_FOUND: {
    status: 404,
    hint: 'Check the URL and method; the API lives under /api/v1/ (see /api/v1/openapi.json).',
  },
  DROVER_ERR_BODY_TOO_LARGE: {
    status: 413,
    hint: 'The request body is larger than the server accepts; split it or raise the server limit.',
  },
  DROVER_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    hint: 'Send JSON with "Content-Type: application/json".',
  },
  DROVER_ERR_PROTOCOL_VERSION: {
    status: 426,
    hint: 'The agent and server speak different protocol versions; upgrade the older of the two.',
  },
  DROVER_ERR_CONFIG: {
    status: 400,
    hint: 'Fix the configuration named in the message (config file, DROVER_* environment or flags).',
  },
  DROVER_ERR_UNAVAILABLE: {
    status: 503,
    hint: 'The server is starting or shutting down; retry shortly.',
  },
  DROVER_ERR_DATABASE_UNAVAILABLE: {
    status: 503,
    hint: 'The server lost its database connection while answering; nothing was half-done. Retry; if it persists, check that PostgreSQL is running and reachable.',
  },
  DROVER_ERR_INSUFFICIENT_STORAGE: {
    status: 507,
    hint: "The server's disk is full; free space in its data directory (or its cache storage) and retry.",
  },
  DROVER_ERR_INVALID_CACHE_NAME: {
    status: 400,
    hint: 'Cache names are 1-64 characters of lowercase letters, digits and "-", starting with a letter or digit.',
  },
  DROVER_ERR_CACHE_NOT_FOUND: {
    status: 404,
    hint: 'List caches with `drover cache list`, or create one with `drover cache create NAME`.',
  },
  DROVER_ERR_CACHE_EXISTS: {
    status: 409,
    hint: 'Cache names are unique on a server (they are part of the substituter URL); pick another name.',
  },
  DROVER_ERR_CACHE_PATH_NOT_FOUND: {
    status: 404,
    hint: 'The cache does not hold this store path or NAR; push it with `nix copy --to` or `drover push`.',
  },
  DROVER_ERR_NARINFO_INVALID: {
    status: 400,
    hint: 'Upload narinfos as Nix writes them (StorePath, URL, Compression, FileHash, FileSize, NarHash, NarSize, References); use `nix copy --to` or `drover push`.',
  },
  DROVER_ERR_NAR_MISMATCH: {
    status: 400,
    hint: 'The uploaded NAR does not match its name or its narinfo (hash or size), or it was truncated; nothing was stored. Push again.',
  },
  DROVER_ERR_NAR_MISSING: {
    status: 409,
    hint: 'Upload the NAR (and every referenced path) before the narinfo; `nix copy --to` and `drover push` do this in order.',
  },
  DROVER_ERR_UNSUPPORTED_COMPRESSION: {
    status: 415,
    hint: 'The cache accepts NARs compressed with zstd, xz or none; push with `?compression=zstd`.',
  },
  DROVER_ERR_UPLOAD_TIMEOUT: {
    status: 408,
    hint: 'The upload body stopped arriving (or never came); retry the push over a working connection.',
  },
  DROVER_ERR_UNREACHABLE: {
    status: 503,
    hint: 'Check the server URL (--server or DROVER_SERVER for the CLI) and that `drover server` is running and reachable from here.',
  },
  DROVER_ERR_BAD_RESPONSE: {
    status: 502,
    hint: 'The answer did not come from a Drover server of this version (a proxy page, another program on that port, or a version mismatch); check the server URL and any proxy in front of it.',
  },
  DROVER_ERR_INTERNAL: {
    status: 500,
    hint: 'This is a bug or an infrastructure failure; the server log has the details under the request id.',
  },
  DROVER_ERR_REQUEST_TIMEOUT: {
    status: 408,
    hint: 'The request body stopped arriving before it was complete; retry over a working connection (the server limit is request_body_idle_timeout).',
  },
  DROVER_ERR_AGENTS_FULL: {
    status: 503,
    hint: 'This server process holds as many agent connections as its open-files limit allows; the agent retries after the Retry-After seconds. Raise the limit (systemd LimitNOFILE=, ulimit -n) or run more workers (--workers).',
  },
  DROVER_ERR_AGENTS_UNEVEN: {
    status: 503,
    hint: 'This worker of drover server --workers N holds more agents than the others; the agent connects again after the Retry-After seconds and another worker most likely takes it. Nothing to change.',
  },
  DROVER_ERR_SIGN_IN_BUSY: {
    status: 503,
    hint: 'The server is checking as many sign-ins as it allows (sign_in_concurrency, sign_in_queue); wait the Retry-After seconds and sign in again.',
  },
  DROVER_ERR_TOO_MANY_SIGN_INS: {
    status: 429,
    hint: 'Too many sign-ins from this address are in progress at once (sign_in_per_address); wait the Retry-After seconds and sign in again.',
  },
  DROVER_ERR_AGENT_TOKEN_UNBOUND: {
    status: 400,
    hint: 'An agent token names the agent it is for: `drover token create --kind agent --agent NAME`; for fleet enrolment ask for `--unbound`, whose first connection claims a name.',
  },
  DROVER_ERR_NOT_IN_PROGRESS: {
    status: 409,
    hint: 'Only an InProgress deployment can be ended by an operator; cancel a Pending one instead.',
  },
  DROVER_ERR_NIX_EVAL: {
    status: 422,
    hint: "Fix the flake's `deploy` output (the message names the agent and gives Nix's error); `nix eval FLAKE#deploy --show-trace` shows the whole trace.",
  },
  DROVER_ERR_NIX_BUILD: {
    status: 422,
    hint: 'Fix the failing derivation named in the message (`nix log DRV` shows its build log); nothing was pushed or deployed.',
  },
  DROVER_ERR_NO_PUSH_CACHE: {
    status: 409,
    hint: 'Create a built-in cache with `drover cache create NAME` (the oldest one is what agents use), or pass `--cache NAME`.',
  },
  DROVER_ERR_NOT_IN_CACHE: {
    status: 409,
    hint: "Push each store path named in details to the agents' cache first (`drover push CACHE PATH…` for a built-in cache, `nix copy --to URL PATH` for an external one), then activate again; `drover activate --no-cache-check` (API `?cacheCheck=false`) skips the check.",
  },
  DROVER_ERR_NO_DATABASE: {
    status: 400,
    hint: "Pass the server's own --data-dir (or --database-url/--database-schema), or start `drover server` once to create its database there.",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem inside a request, e.g. one bad entry of deploy.json. */
export interface ErrorDetail {
  /** Where the problem is, as a JSON-pointer-like path (`/agents/web-1`). */
  readonly path: string;
  readonly code: ErrorCode;
  readonly message: string;
}

/** The JSON body of every API error. */
export interface ErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  readonly hint: string;
  readonly details?: readonly ErrorDetail[];
}

export class DroverError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly hint: string;
  readonly details: readonly ErrorDetail[] | undefined;

  constructor(code: ErrorCode, message: string, details?: readonly ErrorDetail[]) {
    super(message);
    this.name = 'DroverError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.hint = ERRORS[code].hint;
    this.details = details;
  }

  toBody(): ErrorBody {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.details && this.details.length > 0 ? { details: this.details } : {}),
    };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}
