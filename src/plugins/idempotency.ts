// `Idempotency-Key` (API.md) for the routes that opt in with `config: { idempotent: true }`:
// every POST that creates or spends. The key is per shop, so only authenticated routes
// take part. Hooks are appended to the route's own preHandlers, so authentication,
// permission and CSRF checks and body validation all come first: a refused request never
// claims a key.
//
// What is stored: the response status, content type and body of a request that finished
// with a status below 500, for 24 hours. A 5xx releases the key so that the retry runs.
// A request that dies between claim and response leaves a claim that a retry may take
// over after IDEMPOTENCY_LOCK_SECONDS; the routes' own state rules (unique keys, state
// transitions, ledger idempotency keys) keep that rare re-run from doing anything twice.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify';
import type { Db } from '../db/kysely.js';
import { AppError } from '../lib/app-error.js';
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  MAX_STORED_RESPONSE_BYTES,
  releaseIdempotencyKey,
  requestHash,
} from '../modules/idempotency/service.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Honour Idempotency-Key on this route. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /** The key this request claimed, to complete or release when it ends. */
    idempotencyClaim?: { shopId: string; key: string };
  }
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export default fp(
  async (app, opts: { db: Db }) => {
    const { db } = opts;

    const claim: preHandlerHookHandler = async function (request: FastifyRequest, reply: FastifyReply) {
      const raw = request.headers[IDEMPOTENCY_HEADER];
      if (raw === undefined) return;
      const key = Array.isArray(raw) ? undefined : raw;
      if (key === undefined || !KEY_PATTERN.test(key)) {
        throw new AppError(400, 'INVALID_IDEMPOTENCY_KEY', 'Idempotency-Key must be 1-255 printable ASCII characters', { field: 'headers.idempotency-key' });
      }
      const shopId = request.auth?.shopId;
      if (!shopId) return; // unauthenticated: the route's own check answers 401
      // A multipart upload is not read yet here: its length stands for its body (documented).
      const body = String(request.headers['content-type'] ?? '').startsWith('multipart/') ? { multipartLength: request.headers['content-length'] ?? null } : request.body;
      const hash = requestHash({ method: request.method, route: request.routeOptions.url ?? request.url, params: request.params, body });
      const outcome = await claimIdempotencyKey(db, shopId, key, hash);
      switch (outcome.kind) {
        case 'claimed':
          request.idempotencyClaim = { shopId, key };
          return;
        case 'mismatch':
          throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request');
        case 'running':
          throw new AppError(409, 'IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still running; retry later', undefined, { 'Retry-After': '1' });
        case 'replay':
          reply.header('Idempotent-Replayed', 'true');
          if (outcome.contentType) reply.header('content-type', outcome.contentType);
          return reply.code(outcome.status).send(outcome.body);
      }
    };

    const store: onSendHookHandler = async function (request, reply, payload) {
      const claimed = request.idempotencyClaim;
      if (!claimed) return payload;
      request.idempotencyClaim = undefined;
      const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
      if (reply.statusCode >= 500 || body === null || Buffer.byteLength(body) > MAX_STORED_RESPONSE_BYTES) {
        await releaseIdempotencyKey(db, claimed.shopId, claimed.key);
        return payload;
      }
      const contentType = reply.getHeader('content-type');
      await completeIdempotencyKey(db, claimed.shopId, claimed.key, { status: reply.statusCode, contentType: typeof contentType === 'string' ? contentType : null, body });
      return payload;
    };

    app.addHook('onRoute', (route) => {
      if (!route.config?.idempotent) return;
      // Documented in OpenAPI as a header of the route (and so also checked by the schema).
      route.schema = {
        ...route.schema,
        headers: {
          type: 'object',
          properties: {
            [IDEMPOTENCY_HEADER]: {
              type: 'string',
              pattern: KEY_PATTERN.source,
              description: 'Same key + same request within 24 h: the stored response with Idempotent-Replayed: true; different request: 422; first still running: 409.',
            },
          },
        },
      };
      route.preHandler = [...[route.preHandler ?? []].flat(), claim];
      route.onSend = [...[route.onSend ?? []].flat(), store];
    });
  },
  { name: 'idempotency', dependencies: ['auth'] },
);
