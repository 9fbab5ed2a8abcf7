// GET /api/v1/wallet and /wallet/transactions. There is deliberately no route that adds
// credits: purchases come from verified Stripe payments, adjustments from an operator
// command (npm run wallet:adjust). A shop must never be able to credit itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { readInShop } from '../../db/with-shop.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { getWallet, listTransactions } from './service.js';

const Kind = Type.Union(['purchase', 'reserve', 'release', 'debit', 'refund', 'adjustment'].map((k) => Type.Literal(k)));
const Nullable = Type.Union([Type.String(), Type.Null()]);
const Entry = Type.Object(
  {
    id: Type.String(),
    kind: Kind,
    credits: Type.Integer({ description: 'Effect on the balance (reserve/release: amount moved in/out of the reservation)' }),
    balanceAfter: Type.Integer(),
    reservedAfter: Type.Integer(),
    idempotencyKey: Type.String(),
    referenceType: Nullable,
    referenceId: Nullable,
    reason: Nullable,
    actorId: Nullable,
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const walletRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  app.get(
    '/api/v1/wallet',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['wallet'],
        summary: 'Balance, reserved and available credits',
        security,
        response: { 200: Type.Object({ balance: Type.Integer(), reserved: Type.Integer(), available: Type.Integer() }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return readInShop(app.db, shopId, (tx) => getWallet(tx, shopId), userId);
    },
  );

  app.get(
    '/api/v1/wallet/transactions',
    {
      preHandler: requirePermission('billing.manage'),
      schema: {
        tags: ['wallet'],
        summary: 'The credit ledger, newest first (owners and admins)',
        security,
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), kind: Type.Optional(Kind) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Entry), nextCursor: Nullable }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const { limit, cursor, kind } = request.query;
      const after = cursor ? String(decodeCursor(cursor, ['string'])[0]) : null;
      const page = await readInShop(app.db, shopId, (tx) => listTransactions(tx, shopId, { limit, after, kind: kind as never }), userId);
      return { items: page.items, nextCursor: page.next ? encodeCursor([page.next]) : null };
    },
  );
};
