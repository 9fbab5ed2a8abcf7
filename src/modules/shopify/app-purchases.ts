// Shopify's Billing API for billing (the ShopifyPurchaser billing defines): a shop installed
// from Shopify buys credits as an AppPurchaseOneTime, created and read back through the
// Admin GraphQL API with the shop's offline token. Apps in the Shopify App Store must charge
// through it. The token is read in a short read-only transaction and never leaves here.
import type { Db } from '../../db/kysely.js';
import { readInShop } from '../../db/with-shop.js';
import type { KeyRing } from '../../lib/key-ring.js';
import { appPurchaseOneTime, appPurchaseOneTimeCreate, type AppPurchaseOneTime, type ShopifyAdmin } from '../../providers/shopify-admin.js';
import { decimalAmount, minorUnits } from '../../lib/money.js';
import type { ShopifyAppPurchase, ShopifyPurchaser } from '../billing/shopify-purchaser.js';
import { readShopifyAccessToken } from './access-token.js';

interface Installation {
  domain: string;
  accessToken: string;
}

async function installationOf(db: Db, ring: KeyRing, shopId: string): Promise<Installation | null> {
  return readInShop(db, shopId, async (tx) => {
    const shop = await tx.selectFrom('app.shops').select(['shopify_domain', 'uninstalled_at']).where('id', '=', shopId).executeTakeFirst();
    if (!shop?.shopify_domain || shop.uninstalled_at !== null) return null;
    const accessToken = await readShopifyAccessToken(tx, ring, shopId);
    return accessToken ? { domain: shop.shopify_domain, accessToken } : null;
  });
}

function view(purchase: AppPurchaseOneTime): ShopifyAppPurchase {
  const currency = purchase.price?.currencyCode?.toLowerCase() ?? null;
  return {
    id: purchase.id,
    // ACCEPTED (approved, not yet active) is not paid yet.
    status: purchase.status === 'ACCEPTED' ? 'PENDING' : purchase.status,
    amountMinor: purchase.price && currency ? minorUnits(purchase.price.amount, currency) : null,
    currency,
  };
}

export function createShopifyPurchaser(db: Db, ring: KeyRing, admin: ShopifyAdmin, options: { test: boolean }): ShopifyPurchaser {
  async function client(shopId: string) {
    const installation = await installationOf(db, ring, shopId);
    if (!installation) throw new Error('the shop is not installed from Shopify');
    return admin.forShop(installation.domain, installation.accessToken);
  }
  return {
    async isShopifyShop(shopId) {
      return (await installationOf(db, ring, shopId)) !== null;
    },
    async create(shopId, input) {
      const created = await appPurchaseOneTimeCreate(await client(shopId), {
        name: input.name,
        price: { amount: decimalAmount(input.amountMinor, input.currency), currencyCode: input.currency.toUpperCase() },
        returnUrl: input.returnUrl,
        test: options.test,
      });
      return { purchase: view(created.purchase), confirmationUrl: created.confirmationUrl };
    },
    async read(shopId, purchaseId) {
      const found = await appPurchaseOneTime(await client(shopId), purchaseId);
      return found ? view(found) : null;
    },
  };
}
