// Billing routes: HTTP only. Packages are readable by every member; buying, listing and
// confirming purchases is for owners and admins (billing.manage). A purchase names a
// package id and nothing else. Starting one is rate limited per shop and honours
// Idempotency-Key (a retried click returns the same purchase and checkout URL).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { actorOf, readShop } from '../../plugins/shop-request.js';
import { startPurchase } from './checkout.js';
import { confirmPurchase } from './confirm.js';
import { listActivePackages } from './packages.js';
import { getPurchase, listPurchases } from './purchases.js';
import { ConfirmInput, CreatedPurchase, CreditPackageList, Purchase, PurchaseInput, PurchaseList, PurchaseListQuery, PurchaseParams } from './schemas.js';

export const billingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/billing/packages',
    { preHandler: requireAuth, schema: { tags: ['billing'], summary: 'Credit packages on sale (prices set by the server)', security, response: { 200: CreditPackageList } } },
    async (request) => ({ items: await readShop(request, (tx) => listActivePackages(tx)) }),
  );

  app.post(
    '/api/v1/billing/purchases',
    {
      preHandler: requirePermission('billing.manage'),
      config: { idempotent: true, rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        tags: ['billing'],
        summary: 'Start buying a credit package (Stripe Checkout)',
        description:
          'Creates a pending purchase with the package’s credits and price copied from the server’s catalogue, and a Stripe Checkout Session for it. Send the buyer to checkoutUrl; credits arrive when Stripe reports the payment (webhook), or at once through POST /api/v1/billing/purchases/{id}/confirm from the success page.',
        security,
        body: PurchaseInput,
        response: { 201: CreatedPurchase },
      },
    },
    async (request, reply) => reply.code(201).send(await startPurchase(app.db, app.stripe, actorOf(request), request.body, { publicBaseUrl: app.config.publicBaseUrl }, app.metrics, app.shopifyPurchaser)),
  );

  app.get(
    '/api/v1/billing/purchases',
    { preHandler: requirePermission('billing.manage'), schema: { tags: ['billing'], summary: 'Purchases, newest first', security, querystring: PurchaseListQuery, response: { 200: PurchaseList } } },
    async (request) => {
      const { limit, cursor, status } = request.query;
      const after = cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readShop(request, (tx, actor) => listPurchases(tx, actor.shopId, { limit, after, status }));
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.get(
    '/api/v1/billing/purchases/:id',
    { preHandler: requirePermission('billing.manage'), schema: { tags: ['billing'], summary: 'One purchase', security, params: PurchaseParams, response: { 200: Purchase } } },
    async (request) => readShop(request, (tx, actor) => getPurchase(tx, actor.shopId, request.params.id)),
  );

  app.post(
    '/api/v1/billing/purchases/:id/confirm',
    {
      preHandler: requirePermission('billing.manage'),
      // A success page may POST with no body at all: that is the empty body, not a 400.
      preValidation: async (request) => {
        request.body ??= {};
      },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
      schema: {
        tags: ['billing'],
        summary: 'Settle a purchase now from Stripe (for a success page that arrives before the webhook)',
        description:
          'Reads the Checkout Session Pigeon created for this purchase back from Stripe and applies it exactly as the webhook would (credited once, whichever comes first). A sessionId that is not this purchase’s, or a session whose amount or currency differs, is refused (409) and audited.',
        security,
        params: PurchaseParams,
        body: ConfirmInput,
        response: { 200: Purchase },
      },
    },
    async (request) => confirmPurchase(app.db, app.stripe, actorOf(request), request.params.id, request.body, app.metrics, app.shopifyPurchaser),
  );
};
