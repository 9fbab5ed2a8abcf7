// Pigeon's webhook subscriptions on a shop, as a workflow (the shopify_webhook_subscriptions
// job, added by the install's transaction in service.ts): the Admin API is called outside any
// transaction, so the OAuth callback never waits for it and a Shopify outage is a job retry.
//
// Idempotent: the shop's subscriptions are listed first and only the missing (topic, uri)
// pairs are created, so running it again, or after a reinstall, creates nothing twice and
// re-creates what the merchant or Shopify removed. A create that timed out but happened is
// found by the retry's listing; one refused because the address is already taken (a
// concurrent run) counts as present. Subscriptions of the app to other addresses are left
// alone (Shopify delivers to each; an old PUBLIC_BASE_URL's ones are for the operator to
// remove).
//
// The mandatory compliance topics (customers/data_request, customers/redact, shop/redact)
// cannot be subscribed through the API: the app's shopify.app.toml declares them (README).
import type { Db } from '../../db/kysely.js';
import { readInShop } from '../../db/with-shop.js';
import type { KeyRing } from '../../lib/key-ring.js';
import { listWebhookSubscriptions, ShopifyAdminError, webhookSubscriptionCreate, type ShopifyAdmin } from '../../providers/shopify-admin.js';
import { readShopifyAccessToken } from './access-token.js';

/** The WebhookSubscriptionTopic enum names Pigeon subscribes to at install (X-Shopify-Topic: customers/create, …). */
export const WEBHOOK_TOPICS = [
  'CUSTOMERS_CREATE',
  'CUSTOMERS_UPDATE',
  'CUSTOMERS_DELETE',
  'ORDERS_CREATE',
  'APP_UNINSTALLED',
  'APP_PURCHASES_ONE_TIME_UPDATE',
] as const;

/** Where Shopify delivers: the receiver in webhook-routes.ts, under PUBLIC_BASE_URL. */
export const shopifyWebhookUri = (publicBaseUrl: string) => `${publicBaseUrl}/webhooks/shopify`;

export interface SubscriptionDependencies {
  db: Db;
  ring: KeyRing;
  admin: ShopifyAdmin;
  /** shopifyWebhookUri(PUBLIC_BASE_URL). */
  uri: string;
}

export type SubscriptionOutcome =
  | { outcome: 'checked'; created: string[]; present: number }
  /** Uninstalled, or no token: nothing to do (a reinstall adds the job again). */
  | { outcome: 'not_installed' }
  /** Shopify refused the token (401/403): a retry cannot help; a reinstall adds the job again. */
  | { outcome: 'unauthorized' };

async function installationOf(db: Db, ring: KeyRing, shopId: string): Promise<{ domain: string; accessToken: string } | null> {
  return readInShop(db, shopId, async (tx) => {
    const shop = await tx.selectFrom('app.shops').select(['shopify_domain', 'uninstalled_at']).where('id', '=', shopId).executeTakeFirst();
    if (!shop?.shopify_domain || shop.uninstalled_at !== null) return null;
    const accessToken = await readShopifyAccessToken(tx, ring, shopId);
    return accessToken ? { domain: shop.shopify_domain, accessToken } : null;
  });
}

const alreadyTaken = (error: unknown) =>
  error instanceof ShopifyAdminError && error.code === 'USER_ERRORS' && error.userErrors.some((e) => /already been taken/i.test(e.message));

/**
 * Makes sure the shop has a JSON subscription to `uri` for every topic of WEBHOOK_TOPICS.
 * Throws on anything else Shopify answers (5xx, timeouts, throttling past the client's
 * patience, user errors): the job fails and graphile-worker retries it with backoff.
 */
export async function ensureWebhookSubscriptions(deps: SubscriptionDependencies, shopId: string): Promise<SubscriptionOutcome> {
  const installation = await installationOf(deps.db, deps.ring, shopId);
  if (!installation) return { outcome: 'not_installed' };
  const client = deps.admin.forShop(installation.domain, installation.accessToken);
  try {
    const existing = await listWebhookSubscriptions(client);
    const present = new Set(existing.filter((s) => s.uri === deps.uri).map((s) => s.topic));
    const created: string[] = [];
    for (const topic of WEBHOOK_TOPICS) {
      if (present.has(topic)) continue;
      try {
        await webhookSubscriptionCreate(client, { topic, uri: deps.uri, format: 'JSON' });
        created.push(topic);
      } catch (error) {
        if (!alreadyTaken(error)) throw error;
      }
    }
    return { outcome: 'checked', created, present: WEBHOOK_TOPICS.length - created.length };
  } catch (error) {
    if (error instanceof ShopifyAdminError && error.unauthorized) return { outcome: 'unauthorized' };
    throw error;
  }
}
