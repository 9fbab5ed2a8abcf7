// buildApp(config): registers plugins and modules; never listens. Tests use app.inject.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Db } from './db/kysely.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { parseKeyRing } from './lib/key-ring.js';
import cookie from '@fastify/cookie';
import authPlugin from './plugins/auth.js';
import corsPlugin from './plugins/cors.js';
import controlCharactersPlugin from './plugins/control-characters.js';
import errorsPlugin, { clientErrorHandler, frameworkErrorHandler } from './plugins/errors.js';
import idempotencyPlugin from './plugins/idempotency.js';
import metricsPlugin from './plugins/metrics.js';
import openapiPlugin from './plugins/openapi.js';
import { API_COMPONENTS } from './api-components.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import requestBodiesPlugin from './plugins/request-bodies.js';
import requestIdPlugin, { generateRequestId } from './plugins/request-id.js';
import securityHeadersPlugin from './plugins/security-headers.js';
import { auditRoutes } from './modules/audit/routes.js';
import { authRoutes } from './modules/auth/routes.js';
import { healthRoutes } from './modules/health/routes.js';
import { memberRoutes } from './modules/members/routes.js';
import { shopifyRoutes } from './modules/shopify/routes.js';
import { templateRoutes } from './modules/templates/routes.js';
import { contactRoutes } from './modules/contacts/routes.js';
import { privacyRoutes } from './modules/privacy/routes.js';
import { importRoutes } from './modules/imports/routes.js';
import { segmentRoutes } from './modules/segments/routes.js';
import { settingsRoutes } from './modules/settings/routes.js';
import { walletRoutes } from './modules/wallet/routes.js';
import { campaignRoutes } from './modules/campaigns/routes.js';
import { smsWebhookRoutes } from './modules/sms-webhooks/routes.js';
import { senderNumberRoutes } from './modules/sender-numbers/routes.js';
import { billingRoutes } from './modules/billing/routes.js';
import { stripeWebhookRoutes } from './modules/billing/webhook-routes.js';
import { shopifyWebhookRoutes } from './modules/shopify/webhook-routes.js';
import { stripeClientFromConfig } from './providers/stripe.js';
import { shopifyAdminFromConfig } from './providers/shopify-admin.js';
import { createShopifyPurchaser } from './modules/shopify/app-purchases.js';
import './types.js';

export interface BuildAppOptions {
  config: Config;
  db: Db;
  logger?: Logger;
  metrics?: Metrics;
}

/**
 * Node enforces requestTimeout (the whole request, body included: a client trickling a byte
 * every few seconds never trips the idle connectionTimeout) only when it checks its
 * connections, every connectionsCheckingInterval (default 30 s): a 30 s timeout then held
 * sockets for up to a minute. Check often enough that the timeout is what clients get, and
 * give the headers the same deadline (Node's default headersTimeout is 60 s).
 */
export function httpServerTimeouts(requestTimeoutMs: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
  };
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, db } = options;
  const production = config.nodeEnv === 'production';
  const app = Fastify({
    loggerInstance: (options.logger ?? createLogger(config.logLevel)) as FastifyBaseLogger,
    genReqId: generateRequestId,
    // X-Forwarded-* are believed only from these peers (empty list: from nobody).
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    bodyLimit: config.bodyLimitBytes,
    // Both default to 0 (no limit) in Fastify: a slow client could hold a socket forever.
    requestTimeout: config.requestTimeoutMs,
    connectionTimeout: config.connectionTimeoutMs,
    http: httpServerTimeouts(config.requestTimeoutMs),
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    return503OnClosing: true,
    ajv: {
      customOptions: {
        // Reject unknown properties (the schemas say additionalProperties: false) instead
        // of silently dropping them, which is Fastify's default.
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: true,
      },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('config', config);
  app.decorate('db', db);
  app.decorate('metrics', options.metrics ?? createMetrics());
  app.decorate('keyRing', parseKeyRing(config.encryptionKeys));
  const stripe = stripeClientFromConfig(config);
  app.decorate('stripe', stripe);
  if (stripe) app.addHook('onClose', async () => stripe.shutdown());
  const shopifyAdmin = config.shopifyApiSecret ? shopifyAdminFromConfig(config) : null;
  app.decorate('shopifyPurchaser', shopifyAdmin ? createShopifyPurchaser(db, app.keyRing, shopifyAdmin, { test: config.shopifyBillingTest }) : null);
  if (shopifyAdmin) app.addHook('onClose', async () => shopifyAdmin.close());

  await app.register(errorsPlugin, { exposeInternals: config.nodeEnv === 'development' });
  await app.register(requestIdPlugin);
  await app.register(securityHeadersPlugin, { production });
  await app.register(controlCharactersPlugin);
  await app.register(requestBodiesPlugin);
  await app.register(corsPlugin, {
    allowedOrigins: config.allowedOrigins,
    allowShopifyAdminOrigins: config.allowShopifyAdminOrigins,
  });
  await app.register(metricsPlugin, {
    metrics: app.metrics,
    allowedIps: config.metricsAllowedIps,
    token: config.metricsToken,
  });
  await app.register(cookie);
  await app.register(rateLimitPlugin, {
    db,
    max: config.rateLimitMax,
    windowMs: config.rateLimitWindowMs,
    prefilterMax: config.rateLimitPrefilterMax,
    webhookFailureMax: config.webhookSignatureFailureMax,
    webhookFailureWindowMs: config.webhookSignatureFailureWindowMs,
    metrics: app.metrics,
  });
  // After the rate limiter's prefilter (cheap refusals first), before the routes' limits.
  await app.register(authPlugin, { config, db });
  // Before the routes: it attaches its hooks to the routes that opt in as they are added.
  await app.register(idempotencyPlugin, { db });
  await app.register(openapiPlugin, { publicBaseUrl: config.publicBaseUrl, importMaxBytes: config.importMaxBytes, importMaxRows: config.importMaxRows, components: API_COMPONENTS });

  await app.register(healthRoutes);
  await app.register(authRoutes);
  await app.register(auditRoutes);
  await app.register(memberRoutes);
  await app.register(shopifyRoutes);
  await app.register(templateRoutes);
  await app.register(contactRoutes);
  await app.register(privacyRoutes);
  await app.register(importRoutes);
  await app.register(segmentRoutes);
  await app.register(settingsRoutes);
  await app.register(senderNumberRoutes);
  await app.register(walletRoutes);
  await app.register(campaignRoutes);
  await app.register(smsWebhookRoutes);
  await app.register(billingRoutes);
  await app.register(stripeWebhookRoutes);
  await app.register(shopifyWebhookRoutes);
  return app as unknown as FastifyInstance;
}
