// What a broken multipart request becomes. busboy reports a body that is not the multipart
// its Content-Type claims (no boundary, no parts, a part cut short) as plain Errors, which
// the error handler can only call a 500; @fastify/multipart's own errors carry codes.
import { AppError } from '../../lib/app-error.js';

const MULTIPART_LIMITS = new Set(['FST_PARTS_LIMIT', 'FST_FILES_LIMIT', 'FST_FIELDS_LIMIT']);
// busboy's and dicer's messages for a body that is not well-formed multipart.
const MALFORMED_MESSAGES = [/^Multipart: /, /^Boundary required$/, /unexpected end of multipart data/i, /^Malformed part header$/];

/** The client's mistake as an AppError, or null when the error is not about the request's multipart body. */
export function multipartClientError(error: unknown): AppError | null {
  if (error instanceof AppError) return null;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && MULTIPART_LIMITS.has(code)) return new AppError(413, 'TOO_MANY_PARTS', 'Send at most the mapping, consent and one file');
  if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data');
  if (code === 'FST_PROTO_VIOLATION' || code === 'FST_MP_PREMATURE_CLOSE' || code === 'FST_INVALID_JSON_FIELD_ERROR') {
    return new AppError(400, 'INVALID_MULTIPART', 'The body is not valid multipart/form-data');
  }
  if (typeof message === 'string' && MALFORMED_MESSAGES.some((pattern) => pattern.test(message))) {
    return new AppError(400, 'INVALID_MULTIPART', 'The body is not valid multipart/form-data');
  }
  return null;
}
