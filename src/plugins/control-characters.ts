// One rule for every route: no control characters in what a client types into a URL or a
// header we read, and no NUL (or other control characters but tab and line breaks) in JSON
// bodies. Postgres refuses NUL in text ("invalid byte sequence"), which surfaced as a 500
// from any route that put a query parameter into SQL; the other control characters have no
// business in ids, filters, cursors or keys and end up in logs and CSV exports.
//
// A preValidation hook rather than a pattern on each schema: a new route is covered without
// anyone remembering to add it. Raw bodies (webhooks, uploads) are not JSON values here and
// are left to their routes: their bytes are signed or parsed as files.
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../lib/app-error.js';

/** C0 controls and DEL: nothing in a URL or a header value needs them (Node's parser already refuses most in headers; tab gets through). */
const CONTROL_IN_PARAMETER = /[\u0000-\u001f\u007f]/;
/** In JSON text fields (a message body, a name) tab, LF and CR are legitimate; the rest is not. */
const CONTROL_IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const MESSAGE = 'must not contain control characters';

/** Headers read on every route, whatever its schema declares. */
const HEADERS_READ_EVERYWHERE = ['authorization', 'cookie', 'x-csrf-token', 'user-agent', 'origin', 'idempotency-key'];

type Failure = { field: string; message: string };

function checkFlat(location: string, values: unknown, failures: Failure[]): void {
  if (values === null || typeof values !== 'object') return;
  for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
    const items = Array.isArray(value) ? value : [value];
    if (CONTROL_IN_PARAMETER.test(name) || items.some((v) => typeof v === 'string' && CONTROL_IN_PARAMETER.test(v))) {
      failures.push({ field: `${location}.${name.replace(CONTROL_IN_PARAMETER, '?')}`, message: MESSAGE });
    }
  }
}

/** Walks a parsed JSON body without recursion (an attacker chooses its depth). */
function checkJsonBody(body: unknown, failures: Failure[]): void {
  if (body === null || typeof body !== 'object' || Buffer.isBuffer(body)) return;
  const pending: Array<{ value: unknown; path: string }> = [{ value: body, path: 'body' }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (typeof value === 'string') {
      if (CONTROL_IN_TEXT.test(value)) failures.push({ field: path, message: MESSAGE });
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => pending.push({ value: item, path: `${path}.${index}` }));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (CONTROL_IN_TEXT.test(key)) failures.push({ field: path, message: `property names ${MESSAGE}` });
        else pending.push({ value: item, path: `${path}.${key}` });
      }
    }
    if (failures.length >= 20) return; // enough to show the client; do not build a huge answer
  }
}

function headersToCheck(request: FastifyRequest): Record<string, unknown> {
  const declared = request.routeOptions.schema?.headers as { properties?: Record<string, unknown> } | undefined;
  const names = new Set([...HEADERS_READ_EVERYWHERE, ...Object.keys(declared?.properties ?? {}).map((n) => n.toLowerCase())]);
  const picked: Record<string, unknown> = {};
  for (const name of names) if (request.headers[name] !== undefined) picked[name] = request.headers[name];
  return picked;
}

export default fp(
  async (app) => {
    app.addHook('preValidation', async (request) => {
      const failures: Failure[] = [];
      checkFlat('params', request.params, failures);
      checkFlat('querystring', request.query, failures);
      checkFlat('headers', headersToCheck(request), failures);
      checkJsonBody(request.body, failures);
      if (failures.length > 0) throw new AppError(400, 'VALIDATION_FAILED', 'The request is invalid', failures);
    });
  },
  { name: 'control-characters' },
);
