// The Shopify tests' shared parts: the fake Shopify (OAuth + Admin GraphQL) with the app's
// settings for it, an Admin client and the key ring the worker side uses, and a shop as an
// install leaves it (its myshopify domain, its token encrypted with the key ring, granted by
// the fake).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { withShop } from '../../src/db/with-shop.js';
import { parseKeyRing, type KeyRing } from '../../src/lib/key-ring.js';
import { createShopifyAdmin, type ShopifyAdmin } from '../../src/providers/shopify-admin.js';
import { storeShopifyAccessToken } from '../../src/modules/shopify/access-token.js';
import { signUp, type Account } from './accounts.js';
import { TEST_ENCRYPTION_KEYS } from './app.js';
import type { TestDatabase } from './database.js';
import { startFakeShopify, type FakeShopify } from './fake-shopify.js';

export const SHOPIFY_API_KEY = 'pigeon-test-app';
export const SHOPIFY_API_SECRET = 'shpss_0123456789abcdef0123456789abcdef';

export interface ShopifyTestKit {
  fake: FakeShopify;
  /** The app's Shopify settings, pointed at the fake. */
  env: Record<string, string>;
  admin: ShopifyAdmin;
  keyRing: KeyRing;
  /** What the Shopify workflows take (the Admin client and the key ring). */
  deps: { admin: ShopifyAdmin; keyRing: KeyRing };
}

export async function fakeShopifyFor(t: { teardown(fn: () => unknown): void }): Promise<ShopifyTestKit> {
  const fake = await startFakeShopify(SHOPIFY_API_KEY, SHOPIFY_API_SECRET);
  t.teardown(() => fake.close());
  const admin = createShopifyAdmin({ adminUrlTemplate: fake.adminUrlTemplate, apiVersion: '2025-10', timeoutMs: 5_000, breaker: false });
  t.teardown(() => admin.close());
  const keyRing = parseKeyRing(TEST_ENCRYPTION_KEYS);
  const env = { SHOPIFY_API_KEY, SHOPIFY_API_SECRET, SHOPIFY_ADMIN_URL: fake.adminUrlTemplate };
  return { fake, env, admin, keyRing, deps: { admin, keyRing } };
}

export interface ShopifyShop extends Account {
  domain: string;
}

/** A signed-up shop made a Shopify install: its domain, installed a day ago, and a token the fake accepts. */
export async function installedShopifyShop(app: FastifyInstance, db: TestDatabase, kit: ShopifyTestKit, prefix = 'shop'): Promise<ShopifyShop> {
  const account = await signUp(app);
  const domain = `${prefix}-${randomUUID().slice(0, 8)}.myshopify.com`;
  await db.admin.query(`update app.shops set shopify_domain = $2, shopify_installed_at = now() - interval '1 day' where id = $1`, [account.shopId, domain]);
  await withShop(db.apiDb, account.shopId, (tx) => storeShopifyAccessToken(tx, kit.keyRing, account.shopId, kit.fake.admin.grant(domain)));
  return { ...account, domain };
}
