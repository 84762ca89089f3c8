/**
 * Turning every failure into `{code, message, hint, details?}` with the
 * status from the error table — including Fastify's own errors (bad JSON,
 * schema mismatch, body too large, unknown route).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { DroverError, type ErrorCode } from '@drover/protocol';

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'DROVER_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'DROVER_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'DROVER_ERR_VALIDATION',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'DROVER_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'DROVER_ERR_VALIDATION',
};

export function toDroverError(error: FastifyError | Error): DroverError {
  if (error instanceof DroverError) return error;
  const fe = error as FastifyError;
  if (fe.validation) {
    const where = fe.validationContext ?? 'request';
    const problems = fe.validation.map((v) => `${where}${v.instancePath || ''} ${v.message ?? 'is invalid'}`);
    return new DroverError(
      'DROVER_ERR_VALIDATION',
      `invalid ${where}: ${problems.join('; ')}`,
      fe.validation.map((v) => ({ path: `${where}${v.instancePath}`, code: 'DROVER_ERR_VALIDATION', message: v.message ?? 'invalid' })),
    );
  }
  const mapped = fe.code ? fastifyCodes[fe.code] : undefined;
  if (mapped) {
    const message = fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `request body is not valid JSON: ${fe.message}` : fe.message;
    return new DroverError(mapped, message);
  }
  if (fe.statusCode === 400 && fe.message) return new DroverError('DROVER_ERR_VALIDATION', fe.message);
  return new DroverError('DROVER_ERR_INTERNAL', 'internal server error');
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const e = toDroverError(error);
    if (e.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.debug({ code: e.code }, e.message);
    void reply.status(e.statusCode).send(e.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const e = new DroverError('DROVER_ERR_ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    void reply.status(e.statusCode).send(e.toBody());
  });
}
