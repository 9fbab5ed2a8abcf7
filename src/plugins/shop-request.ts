// The two request helpers every shop route uses instead of repeating authentication and
// the tenant transaction: `inShop` runs an operation in a read-write tenant transaction,
// `readShop` in a read-only one; both hand it the Actor (user, shop, and the request's
// audit fields: the client address only as a keyed hash).
import type { FastifyRequest } from 'fastify';
import { readInShop, withShop, type Tx } from '../db/with-shop.js';
import type { Actor } from '../lib/actor.js';
import { keyedHash } from '../lib/keyed-hash.js';
import { authOf } from './auth.js';

export function actorOf(request: FastifyRequest): Actor {
  const { shopId, userId } = authOf(request);
  const ua = request.headers['user-agent'];
  return {
    shopId,
    userId,
    ipHash: keyedHash(request.server.config.ipHashSecret, request.ip),
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null,
    requestId: String(request.id),
  };
}

export function inShop<T>(request: FastifyRequest, operation: (tx: Tx, actor: Actor) => Promise<T>): Promise<T> {
  const actor = actorOf(request);
  return withShop(request.server.db, actor.shopId, (tx) => operation(tx, actor), actor.userId ?? undefined);
}

export function readShop<T>(request: FastifyRequest, operation: (tx: Tx, actor: Actor) => Promise<T>): Promise<T> {
  const actor = actorOf(request);
  return readInShop(request.server.db, actor.shopId, (tx) => operation(tx, actor), actor.userId ?? undefined);
}
