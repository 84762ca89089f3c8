/**
 * Turning every failure into `{code, message, hint, details?}` with the
 * status from the error table — including Fastify's own errors (bad JSON,
 * schema mismatch, body too large, unknown route) and the database's: a lost
 * connection is DROVER_ERR_DATABASE_UNAVAILABLE (503, retry), a value it
 * refused is DROVER_ERR_VALIDATION (400, do not retry).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import {
  AGENT_NAME_PATTERN,
  DroverError,
  PLAIN_TEXT_PATTERN,
  STORE_PATH_PATTERN,
  WORKSPACE_NAME_PATTERN,
  type ErrorCode,
  type ErrorDetail,
} from '@drover/protocol';
import { isConnectionLost, isDiskFull } from '../db/connect.js';
import { refusedValue } from '../db/refused-value.js';

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'DROVER_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'DROVER_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'DROVER_ERR_VALIDATION',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'DROVER_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'DROVER_ERR_VALIDATION',
};

/** Schema patterns of Drover's named values: a mismatch is reported with the rule, not the regex. */
const namedPatterns: Record<string, { code: ErrorCode; rule: string }> = {
  [WORKSPACE_NAME_PATTERN]: {
    code: 'DROVER_ERR_INVALID_WORKSPACE_NAME',
    rule: 'is not a workspace name (1-64 lowercase letters, digits or "-", starting with a letter or digit)',
  },
  [AGENT_NAME_PATTERN]: { code: 'DROVER_ERR_INVALID_AGENT_NAME', rule: 'is not an agent name (1-64 letters, digits, "-", "_" or ".")' },
  [PLAIN_TEXT_PATTERN]: { code: 'DROVER_ERR_VALIDATION', rule: 'contains a control character (U+0000-U+001F or U+007F), which is not allowed here' },
  [STORE_PATH_PATTERN]: { code: 'DROVER_ERR_INVALID_STORE_PATH', rule: 'is not a store path (/nix/store/<32-character hash>-<name>)' },
};

type ValidationEntry = NonNullable<FastifyError['validation']>[number];

function validationDetail(where: string, v: ValidationEntry): ErrorDetail {
  const pattern = v.keyword === 'pattern' ? (v.params as { pattern?: string }).pattern : undefined;
  const named = pattern ? namedPatterns[pattern] : undefined;
  const path = `${where}${v.instancePath}`;
  return named
    ? { path, code: named.code, message: `${path} ${named.rule}` }
    : { path, code: 'DROVER_ERR_VALIDATION', message: `${path} ${v.message ?? 'is invalid'}` };
}

function toDroverError(error: FastifyError | Error): DroverError {
  if (error instanceof DroverError) return error;
  const fe = error as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const details = fe.validation.map((v) => validationDetail(where, v));
    // One kind of named value at fault: answer with its own code and hint.
    const [only, ...others] = new Set(details.map((d) => d.code));
    const code = only !== undefined && others.length === 0 ? only : 'DROVER_ERR_VALIDATION';
    return new DroverError(code, `invalid ${where}: ${details.map((d) => d.message).join('; ')}`, details);
  }
  const mapped = fe.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) {
    const message = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `request body is not valid JSON: ${fe.message}` : fe.message;
    return new DroverError(mapped, message);
  }
  if (fe.statusCode === 400 && fe.message) return new DroverError('DROVER_ERR_VALIDATION', fe.message);
  // PostgreSQL restarted, failed over or dropped this connection mid-request: the transaction was rolled back.
  if (isConnectionLost(error)) return new DroverError('DROVER_ERR_DATABASE_UNAVAILABLE', 'the server lost its database connection while answering; retry');
  if (isDiskFull(error))
    return new DroverError(
      'DROVER_ERR_INSUFFICIENT_STORAGE',
      "the server's disk is full (no space left for its database or files); nothing of this request was kept",
    );
  const refused = refusedValue(error);
  if (refused !== null) return new DroverError('DROVER_ERR_VALIDATION', `the database refused a value of this request: ${refused}`);
  return new DroverError('DROVER_ERR_INTERNAL', 'internal server error');
}

/** 503s the server chose, to shed load: not failures; what decides them logs them (routes/agent-admission.ts: a warning a minute at most). */
const LOAD_SHEDDING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['DROVER_ERR_AGENTS_FULL', 'DROVER_ERR_AGENTS_UNEVEN']);

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = toDroverError(error);
    if (e.statusCode >= 500 && !LOAD_SHEDDING.has(e.code)) request.log.error({ err: error }, 'request failed');
    else request.log.debug({ code: e.code }, e.message);
    void reply.status(e.statusCode).send(e.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new DroverError('DROVER_ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(e.statusCode).send(e.toBody());
  });
}
