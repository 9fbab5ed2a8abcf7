// Request bodies, for every route at once:
// - JSON only (and multipart where a route registers it): any other media type is a 415.
// - JSON is parsed only up to MAX_JSON_DEPTH levels of nesting. JSON.parse itself copes with
//   any depth, but whatever walks the value afterwards (the Idempotency-Key hash, Ajv, a
//   service) recurses, and a 20,000-deep array overflowed the stack: a 500 from 40 KB.
// - A route that declares no body schema takes no body: it gets one (null or {}) and a
//   small body limit, so nothing unvalidated reaches its hooks. Routes that read their body
//   themselves opt out: multipart uploads (schema `consumes`) and signed webhooks
//   (`config: { rawBody: true }`), which parse only after checking the signature.
import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AppError } from '../lib/app-error.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads its body as bytes with its own parser (signed webhooks). */
    rawBody?: boolean;
  }
}

/** Deeper than any body the API defines (segment filters are the deepest, a few levels). */
export const MAX_JSON_DEPTH = 32;
/** What a route without a body may still be sent: `{}` or `null` and a little whitespace. */
const NO_BODY_LIMIT_BYTES = 1024;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const NoBody = Type.Object({}, { additionalProperties: false, nullable: true, description: 'No body (or {} / null)' });

/** Nesting depth of JSON text, counted without parsing (brackets inside strings do not count). */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

export default fp(
  async (app) => {
    // Fastify's own parser (secure-json-parse, __proto__ and constructor refused), after a depth check.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request: FastifyRequest, body: string | Buffer, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
        done(new AppError(400, 'BODY_TOO_DEEP', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`), undefined);
        return;
      }
      parseJson(request, text, done);
    });

    // JSON in (API.md): Fastify also parses text/plain by default, so a text body reached
    // the JSON routes' schemas and came back as a 400. No route reads text: 415.
    app.removeContentTypeParser('text/plain');

    app.addHook('onRoute', (route) => {
      const methods = [route.method].flat();
      if (!methods.some((m) => BODY_METHODS.has(m)) || route.config?.rawBody) return;
      const schema = route.schema as { body?: unknown; consumes?: string[] } | undefined;
      if (schema?.body !== undefined || schema?.consumes?.some((type) => type.startsWith('multipart/'))) return;
      route.schema = { ...route.schema, body: NoBody };
      route.bodyLimit = Math.min(route.bodyLimit ?? NO_BODY_LIMIT_BYTES, NO_BODY_LIMIT_BYTES);
    });
  },
  { name: 'request-bodies' },
);
