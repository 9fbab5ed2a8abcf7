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
//
// Uploads (multipart) are not read before the route runs, so their key cannot be claimed
// here: the route streams the file, hashing it, and claims the key with
// claimUploadIdempotencyKey inside the transaction that stored the file. A refused claim
// (another file under the key: 422; still running: 409; finished: the stored response)
// rolls the upload back: nothing imported, nothing left behind.
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, onSendHookHandler, preHandlerHookHandler } from 'fastify';
import type { Db } from '../db/kysely.js';
import { AppError } from '../lib/app-error.js';
import type { Tx } from '../db/with-shop.js';
import {
  claimIdempotencyKey,
  claimIdempotencyKeyIn,
  type ClaimOutcome,
  completeIdempotencyKey,
  MAX_STORED_RESPONSE_BYTES,
  releaseIdempotencyKey,
  requestHash,
} from './idempotency-store.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Honour Idempotency-Key on this route. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    /** The key this request claimed, to complete or release when it ends. */
    idempotencyClaim?: { shopId: string; key: string };
    /** An upload's key, left for the route to claim once the file's hash is known. */
    idempotencyUpload?: { shopId: string; key: string };
  }
}

/** Thrown inside an upload's transaction (rolling it back) when the key's stored response is the answer. */
export class IdempotentReplay extends Error {
  constructor(readonly stored: { status: number; contentType: string | null; body: string }) {
    super('idempotent replay');
    this.name = 'IdempotentReplay';
  }
}

/** Answers with a stored response, marked as a replay. */
export function sendReplay(reply: FastifyReply, stored: IdempotentReplay['stored']): FastifyReply {
  reply.header('Idempotent-Replayed', 'true');
  if (stored.contentType) reply.header('content-type', stored.contentType);
  return reply.code(stored.status).send(stored.body);
}

function refusal(outcome: ClaimOutcome): AppError | IdempotentReplay | null {
  switch (outcome.kind) {
    case 'claimed':
      return null;
    case 'mismatch':
      return new AppError(422, 'IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used with a different request');
    case 'running':
      return new AppError(409, 'IDEMPOTENCY_KEY_IN_USE', 'A request with this Idempotency-Key is still running; retry later', undefined, { 'Retry-After': '1' });
    case 'replay':
      return new IdempotentReplay(outcome);
  }
}

/**
 * Claims an upload's key in the transaction that stored it, the request being identified by
 * its fields and the SHA-256 of the file's bytes (computed while streaming). Throws (rolling
 * the upload back) unless the key is new: 422, 409, or IdempotentReplay for the route to send.
 */
export async function claimUploadIdempotencyKey(tx: Tx, request: FastifyRequest, upload: { fields: Record<string, unknown>; sha256: string }): Promise<void> {
  const pending = request.idempotencyUpload;
  if (!pending) return;
  const hash = requestHash({ method: request.method, route: request.routeOptions.url ?? request.url, params: request.params, body: { multipart: upload.fields, fileSha256: upload.sha256 } });
  const refused = refusal(await claimIdempotencyKeyIn(tx, pending.shopId, pending.key, hash));
  if (refused) throw refused;
  request.idempotencyUpload = undefined;
  request.idempotencyClaim = pending;
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
      if (String(request.headers['content-type'] ?? '').toLowerCase().startsWith('multipart/')) {
        // Not read yet: the route claims the key once the file's hash is known.
        request.idempotencyUpload = { shopId, key };
        return;
      }
      const hash = requestHash({ method: request.method, route: request.routeOptions.url ?? request.url, params: request.params, body: request.body });
      const refused = refusal(await claimIdempotencyKey(db, shopId, key, hash));
      if (refused instanceof IdempotentReplay) return sendReplay(reply, refused.stored);
      if (refused) throw refused;
      request.idempotencyClaim = { shopId, key };
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
