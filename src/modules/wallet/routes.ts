// GET /api/v1/wallet and /wallet/transactions. There is deliberately no route that adds
// credits: purchases come from verified Stripe payments, adjustments from an operator
// command (npm run wallet:adjust). A shop must never be able to credit itself.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { readShop } from '../../plugins/shop-request.js';
import { Wallet, WalletEntryList, WalletEntryListQuery } from './schemas.js';
import { getWallet, listTransactions } from './service.js';

export const walletRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  app.get(
    '/api/v1/wallet',
    { preHandler: requireAuth, schema: { tags: ['wallet'], summary: 'Balance, reserved and available credits', security, response: { 200: Wallet } } },
    async (request) => readShop(request, (tx, actor) => getWallet(tx, actor.shopId)),
  );

  app.get(
    '/api/v1/wallet/transactions',
    {
      preHandler: requirePermission('billing.manage'),
      schema: { tags: ['wallet'], summary: 'The credit ledger, newest first (owners and admins)', security, querystring: WalletEntryListQuery, response: { 200: WalletEntryList } },
    },
    async (request) => {
      const { limit, cursor, kind } = request.query;
      const after = cursor ? String(decodeCursor(cursor, ['string'])[0]) : null;
      const page = await readShop(request, (tx, actor) => listTransactions(tx, actor.shopId, { limit, after, kind }));
      return { items: page.items, nextCursor: page.next ? encodeCursor([page.next]) : null };
    },
  );
};
