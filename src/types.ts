// Fastify decorations shared by every module.
import type { Config } from './config.js';
import type { Db } from './db/kysely.js';
import type { KeyRing } from './lib/key-ring.js';
import type { Metrics } from './metrics.js';
import type { StripeClient } from './providers/stripe.js';
import type { ShopifyPurchaser } from './modules/billing/shopify-purchaser.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Db;
    metrics: Metrics;
    /** ENCRYPTION_KEYS, parsed once: secrets at rest (Shopify tokens, invitation tokens). */
    keyRing: KeyRing;
    /** Stripe, when STRIPE_SECRET_KEY is set; null: the billing routes answer 503. */
    stripe: StripeClient | null;
    /** Shopify's Billing API for shops installed from Shopify; null without a Shopify app configured. */
    shopifyPurchaser: ShopifyPurchaser | null;
  }
}

export {};
