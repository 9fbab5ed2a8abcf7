// Shopify: the OAuth install (/install sends the merchant to Shopify, /callback comes back
// with a code), the App Bridge session-token exchange for Pigeon tokens, and the customer
// backfill (POST starts it, GET follows it).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { byClientAddress } from '../../plugins/rate-limit.js';
import type { QueryParams } from '../../lib/shopify-hmac.js';
import { clientInfo } from '../audit/service.js';
import { shopAdminUrl } from '../../providers/shopify.js';
import { beginInstall, completeInstall, exchangeSessionToken, OAUTH_STATE_TTL_SECONDS, shopifyClient } from './service.js';
import { issueSessionTokens } from '../../plugins/session-tokens.js';
import { requirePermission } from '../../plugins/permissions.js';
import { inShop, readShop } from '../../plugins/shop-request.js';
import { ShopifySync } from './schemas.js';
import { latestShopifySync, startShopifySync } from './sync.js';

const STATE_COOKIE = 'pigeon_shopify_state';
const STATE_COOKIE_PATH = '/api/v1/shopify';
const CALLBACK_PATH = '/api/v1/shopify/callback';

// Shopify adds parameters of its own (host, embedded, locale, session, …) and signs them
// all, so they are kept verbatim for the HMAC; only their number and size are bounded.
const SignedQuery = Type.Object(
  { shop: Type.String({ minLength: 1, maxLength: 255 }) },
  { additionalProperties: Type.Union([Type.String({ maxLength: 2048 }), Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 50 })]), maxProperties: 20 },
);
const Shop = Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() }, { additionalProperties: false });
const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), requestId: Type.String(), details: Type.Optional(Type.Unknown()) }),
});

export const shopifyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app;
  const secureCookie = config.nodeEnv !== 'development';

  app.get(
    '/api/v1/shopify/install',
    {
      config: { rateLimit: { max: 30, timeWindow: '15 minutes', keyGenerator: byClientAddress } },
      schema: {
        tags: ['shopify'],
        summary: 'Start the OAuth install: redirects to Shopify with a fresh single-use state',
        description: `The state is 32 random bytes, stored hashed, good for ${OAUTH_STATE_TTL_SECONDS / 60} minutes and one callback, and bound to this browser by an HttpOnly cookie. A signed install link (hmac present) must verify.`,
        querystring: SignedQuery,
        response: { 302: Type.Null(), 400: ErrorResponse, 401: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { state, location } = await beginInstall(db, config, request.query as QueryParams, `${config.publicBaseUrl}${CALLBACK_PATH}`);
      reply.setCookie(STATE_COOKIE, state, {
        httpOnly: true,
        secure: secureCookie,
        // Lax, not Strict: the callback is a top-level redirect from Shopify's domain.
        sameSite: 'lax',
        path: STATE_COOKIE_PATH,
        maxAge: OAUTH_STATE_TTL_SECONDS,
      });
      reply.header('Cache-Control', 'no-store');
      return reply.redirect(location, 302);
    },
  );

  app.get(
    CALLBACK_PATH,
    {
      config: { rateLimit: { max: 30, timeWindow: '15 minutes', keyGenerator: byClientAddress } },
      schema: {
        tags: ['shopify'],
        summary: 'Finish the OAuth install (HMAC, shop and state checked first); creates the shop',
        querystring: SignedQuery,
        response: { 302: Type.Null(), 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 502: ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const browserState = request.cookies[STATE_COOKIE];
      // Whatever happens next, this browser's state is spent.
      reply.clearCookie(STATE_COOKIE, { path: STATE_COOKIE_PATH });
      const installed = await completeInstall(db, config, app.keyRing, request.query as QueryParams, browserState, clientInfo(request));
      reply.header('Cache-Control', 'no-store');
      // Into the app inside the shop's admin, where App Bridge signs the staff user in.
      return reply.redirect(`${shopAdminUrl(config.shopifyAdminUrl, installed.shop)}/admin/apps/${encodeURIComponent(shopifyClient(config).apiKey)}`, 302);
    },
  );
  app.post(
    '/api/v1/auth/shopify/session',
    {
      config: { rateLimit: { max: 60, timeWindow: '1 minute', keyGenerator: byClientAddress } },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a Shopify session token (App Bridge) for Pigeon tokens',
        description:
          'The session token must be HS256-signed with the app secret, aud = the app\'s API key, iss and dest naming one installed *.myshopify.com shop, within exp/nbf (small leeway), and name a staff user (sub). The first staff user of a shop becomes its owner, later ones members.',
        body: Type.Object({ sessionToken: Type.String({ minLength: 1, maxLength: 8192 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            { accessToken: Type.String(), expiresIn: Type.Integer(), user: Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }), shop: Shop, role: Type.String() },
            { additionalProperties: false },
          ),
          401: ErrorResponse,
          503: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const outcome = await exchangeSessionToken(db, config, request.body.sessionToken, clientInfo(request));
      return { ...issueSessionTokens(app, reply, outcome), user: { id: outcome.userId }, shop: { id: outcome.shopId, name: outcome.shopName }, role: outcome.role };
    },
  );

  app.post(
    '/api/v1/shopify/sync',
    {
      preHandler: requirePermission('shopify.sync'),
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        tags: ['shopify'],
        summary: "Start the backfill of the shop's Shopify customers and their SMS consent",
        description:
          'Owners and admins of a shop installed from Shopify. Returns 202 with the sync; a job runs a bulk operation over the customers and applies its result to the contacts (matched by customer id, then phone; consent source shopify, never re-subscribing a contact whose opt-out in Pigeon is newer than Shopify\'s consent). One at a time per shop: 409 SHOPIFY_SYNC_RUNNING while one is queued or running; 409 SHOPIFY_NOT_INSTALLED for a shop without Shopify access.',
        security: [{ bearerAuth: [] }],
        response: { 202: ShopifySync },
      },
    },
    async (request, reply) => reply.code(202).send(await inShop(request, (tx, actor) => startShopifySync(tx, actor))),
  );

  app.get(
    '/api/v1/shopify/sync',
    {
      preHandler: requirePermission('shopify.sync'),
      schema: {
        tags: ['shopify'],
        summary: "The shop's latest customer backfill with its progress (404 before the first)",
        security: [{ bearerAuth: [] }],
        response: { 200: ShopifySync },
      },
    },
    async (request) => readShop(request, (tx, actor) => latestShopifySync(tx, actor.shopId)),
  );
};
