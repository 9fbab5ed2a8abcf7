// The database handle tasks use. src/worker.ts sets it; under the graphile-worker CLI
// (`npx graphile-worker`) it is created on first use from the same configuration.
import type { Db } from './db/kysely.js';
import { createDb, createPool } from './db/kysely.js';
import { loadConfig, type Config } from './config.js';
import { createSmsClient, type SmsClient } from './providers/sms/client.js';
import { ProviderNotConfiguredError } from './modules/campaigns/send-batch-job.js';
import type { Metrics } from './metrics.js';
import { stripeClientFromConfig, type StripeClient } from './providers/stripe.js';
import { shopifyAdminFromConfig, type ShopifyAdmin } from './providers/shopify-admin.js';
import { parseKeyRing, type KeyRing } from './lib/key-ring.js';
import { createShopifyPurchaser } from './modules/shopify/app-purchases.js';
import { shopifyWebhookUri, type SubscriptionDependencies } from './modules/shopify/webhook-subscriptions.js';
import type { ShopifyPurchaser } from './modules/billing/shopify-purchaser.js';

let current: Db | undefined;

export function setWorkerDb(db: Db | undefined): void {
  current = db;
}

export function workerDb(): Db {
  if (!current) {
    const config = loadConfig();
    if (!config.databaseUrl) throw new Error('DATABASE_URL is not set (the worker role connection string)');
    current = createDb(createPool({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize, applicationName: 'pigeon-worker-cli' }));
  }
  return current;
}

/** What the send task sends through, and how many requests it keeps in flight. */
export interface WorkerSms {
  sender: SmsClient;
  concurrency: number;
}

let currentSms: WorkerSms | undefined;

export function setWorkerSms(sms: WorkerSms | undefined): void {
  currentSms = sms;
}

export function workerSms(): WorkerSms {
  if (!currentSms) {
    const config = loadConfig();
    currentSms = smsFromConfig(config);
  }
  return currentSms;
}

export function smsFromConfig(config: Config): WorkerSms {
  if (!config.smsProviderUrl || !config.smsProviderApiKey) {
    // The batch waits (its job puts itself back) until one is: nothing is lost or failed.
    throw new ProviderNotConfiguredError();
  }
  const sender = createSmsClient({
    baseUrl: config.smsProviderUrl,
    apiKey: config.smsProviderApiKey,
    timeoutMs: config.smsProviderTimeoutMs,
    // Every concurrent batch keeps its requests in flight at once.
    connections: config.smsSendConcurrency * config.workerConcurrency,
    breaker: { errorThresholdPercentage: config.smsBreakerErrorPercent, resetTimeoutMs: config.smsBreakerResetMs, volumeThreshold: config.smsBreakerVolume },
  });
  return { sender, concurrency: config.smsSendConcurrency };
}

/** The send path's retry settings, from the configuration on first use. */
export interface WorkerSettings {
  sendRetryMaxDelaySeconds: number;
  sendOutageGiveUpHours: number;
  workerHeartbeatTimeoutSeconds: number;
}
let currentSettings: WorkerSettings | undefined;
export function workerSettings(): WorkerSettings {
  if (!currentSettings) {
    const config = loadConfig();
    currentSettings = { sendRetryMaxDelaySeconds: config.sendRetryMaxDelaySeconds, sendOutageGiveUpHours: config.sendOutageGiveUpHours, workerHeartbeatTimeoutSeconds: config.workerHeartbeatTimeoutSeconds };
  }
  return currentSettings;
}

/** The worker process's metrics, when it has any (tasks count what they resolve). */
let currentMetrics: Metrics | undefined;
export function setWorkerMetrics(metrics: Metrics | undefined): void {
  currentMetrics = metrics;
}
export function workerMetrics(): Metrics | undefined {
  return currentMetrics;
}

/** Stripe for the billing tasks, from the configuration on first use; null when not configured. */
let currentStripe: StripeClient | null | undefined;
export function setWorkerStripe(stripe: StripeClient | null | undefined): void {
  currentStripe = stripe;
}
export function workerStripe(): StripeClient | null {
  if (currentStripe === undefined) currentStripe = stripeClientFromConfig(loadConfig());
  return currentStripe;
}

/** Shopify's Admin API for the Shopify tasks, from the configuration on first use. */
let currentShopifyAdmin: ShopifyAdmin | undefined;
export function setWorkerShopifyAdmin(admin: ShopifyAdmin | undefined): void {
  currentShopifyAdmin = admin;
}
export function workerShopifyAdmin(): ShopifyAdmin {
  currentShopifyAdmin ??= shopifyAdminFromConfig(loadConfig());
  return currentShopifyAdmin;
}

/** The key ring (ENCRYPTION_KEYS) that opens shops' Shopify tokens, from the configuration on first use. */
let currentKeyRing: KeyRing | undefined;
export function setWorkerKeyRing(ring: KeyRing | undefined): void {
  currentKeyRing = ring;
}
export function workerKeyRing(): KeyRing {
  currentKeyRing ??= parseKeyRing(loadConfig().encryptionKeys);
  return currentKeyRing;
}

/** Shopify's Billing API for the billing tasks, from the configuration on first use; null without a Shopify app. */
let currentShopifyPurchaser: ShopifyPurchaser | null | undefined;
export function setWorkerShopifyPurchaser(purchaser: ShopifyPurchaser | null | undefined): void {
  currentShopifyPurchaser = purchaser;
}
export function workerShopifyPurchaser(): ShopifyPurchaser | null {
  if (currentShopifyPurchaser === undefined) {
    const config = loadConfig();
    currentShopifyPurchaser = config.shopifyApiSecret
      ? createShopifyPurchaser(workerDb(), workerKeyRing(), workerShopifyAdmin(), { test: config.shopifyBillingTest })
      : null;
  }
  return currentShopifyPurchaser;
}

/** What the webhook-subscriptions task needs, from the configuration on first use; null without a Shopify app. */
let currentShopifySubscriptions: SubscriptionDependencies | null | undefined;
export function setWorkerShopifySubscriptions(dependencies: SubscriptionDependencies | null | undefined): void {
  currentShopifySubscriptions = dependencies;
}
export function workerShopifySubscriptions(): SubscriptionDependencies | null {
  if (currentShopifySubscriptions === undefined) {
    const config = loadConfig();
    currentShopifySubscriptions = config.shopifyApiSecret
      ? { db: workerDb(), ring: workerKeyRing(), admin: workerShopifyAdmin(), uri: shopifyWebhookUri(config.publicBaseUrl) }
      : null;
  }
  return currentShopifySubscriptions;
}
