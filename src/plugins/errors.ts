// One error envelope for every response: {"error": {code, message, requestId, details?}}.
// Fastify's default handler echoes error.message (which can hold SQL), so it is replaced.
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import fp from 'fastify-plugin';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../lib/app-error.js';
import type { ErrorCode } from '../lib/error-codes.js';
import { normaliseDetails } from '../lib/error-details.js';
import { isDatabaseError, mapDatabaseError } from '../db/errors.js';
import { InvalidTenantIdError } from '../db/tenant-context.js';

export interface ErrorBody {
  error: { code: string; message: string; requestId: string; details?: unknown };
}

// Fastify's own client errors, by their code: safe, fixed messages.
const FASTIFY_CLIENT_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported content type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_REQUEST', message: 'Invalid content length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'BAD_REQUEST', message: 'Body cannot be empty when content-type is application/json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON', message: 'Body is not valid JSON' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_REQUEST', message: 'Malformed URL' },
  // 414 as Fastify has it: the URL, not the resource, is the problem. The URL is not echoed.
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URI_TOO_LONG', message: 'A path parameter is too long' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'BAD_REQUEST', message: 'Bad request' },
  FST_ERR_NOT_FOUND: { status: 404, code: 'NOT_FOUND', message: 'Route not found' },
  FST_CSRF_MISSING_SECRET: { status: 403, code: 'CSRF_INVALID', message: 'Missing or invalid CSRF token' },
  FST_CSRF_INVALID_TOKEN: { status: 403, code: 'CSRF_INVALID', message: 'Missing or invalid CSRF token' },
};

function validationDetails(error: FastifyError): Array<{ field: string; message: string }> {
  return (error.validation ?? []).map((v) => {
    const params = v.params as Record<string, unknown> | undefined;
    let field = (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.');
    if (params?.missingProperty) field = field ? `${field}.${String(params.missingProperty)}` : String(params.missingProperty);
    if (params?.additionalProperty) field = field ? `${field}.${String(params.additionalProperty)}` : String(params.additionalProperty);
    const location = error.validationContext ?? 'body';
    return { field: field ? `${location}.${field}` : location, message: v.message ?? 'is invalid' };
  });
}

export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof InvalidTenantIdError) return new AppError(404, 'NOT_FOUND', 'Resource not found');
  const fe = error as FastifyError;
  if (fe && Array.isArray(fe.validation)) {
    return new AppError(400, 'VALIDATION_FAILED', 'The request is invalid', validationDetails(fe));
  }
  if (isDatabaseError(error)) return mapDatabaseError(error);
  const known = fe?.code ? FASTIFY_CLIENT_ERRORS[fe.code] : undefined;
  if (known) return new AppError(known.status, known.code, known.message);
  if (typeof fe?.statusCode === 'number' && fe.statusCode === 429) {
    return new AppError(429, 'RATE_LIMITED', 'Too many requests');
  }
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError(fe.statusCode, 'BAD_REQUEST', 'Bad request');
  }
  return new AppError(500, 'INTERNAL_ERROR', 'Internal error');
}

export function errorBody(request: FastifyRequest, error: AppError): ErrorBody {
  const body: ErrorBody = { error: { code: error.code, message: error.message, requestId: String(request.id) } };
  // One details shape (src/lib/error-details.ts): field-level details as a list of {field, message}.
  const details = normaliseDetails(error.message, error.details);
  if (details !== undefined) body.error.details = details;
  return body;
}

const CLIENT_ERRORS: Record<string, { status: number; code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'REQUEST_TIMEOUT', message: 'The request took too long to arrive' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'HEADERS_TOO_LARGE', message: 'Request headers are too large' },
};

/**
 * Node's 'clientError' (a request timed out or could not be parsed, before any route runs):
 * Fastify's default answers in its own shape, so answer in the envelope with a request id.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = CLIENT_ERRORS[error.code ?? ''] ?? { status: 400, code: 'BAD_REQUEST', message: 'Malformed request' };
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code: known.code, message: known.message, requestId } });
  // As Node's own handler: no status line once a response has started on this socket.
  const response = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    socket.write(
      `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

/**
 * Errors Fastify raises before a route is found (a malformed URL, a path parameter over
 * maxParamLength): no hook runs for them, and Fastify's own body echoes the URL. Answered
 * in the envelope, with the request id the hooks would have set.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const appError = toAppError(error);
  request.log.info({ code: appError.code, status: appError.statusCode }, 'request refused');
  void reply.code(appError.statusCode).header('X-Request-Id', request.id).send(errorBody(request, appError));
}

export default fp(
  async (app, opts: { exposeInternals: boolean }) => {
    app.setErrorHandler(async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const appError = toAppError(error);
      if (appError.statusCode >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ code: appError.code, status: appError.statusCode }, 'request refused');
      const body = errorBody(request, appError);
      if (opts.exposeInternals && appError.statusCode >= 500 && error instanceof Error) {
        // Development only: what went wrong, to save a trip to the logs.
        body.error.details = { debug: error.message, stack: error.stack };
      }
      for (const [name, value] of Object.entries(appError.headers)) reply.header(name, value);
      return reply.code(appError.statusCode).send(body);
    });
    app.setNotFoundHandler(async (request, reply) => {
      return reply.code(404).send(errorBody(request, new AppError(404, 'NOT_FOUND', 'Route not found')));
    });
  },
  { name: 'errors' },
);
