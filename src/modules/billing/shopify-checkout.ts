// Credits for a shop installed from Shopify, through Shopify's Billing API (the App Store
// requires it): the same purchase row and the same ledger entry as a Stripe purchase, with
// an AppPurchaseOneTime instead of a Checkout Session.
//   start:  tx: pending purchase (package copied) + audit → appPurchaseOneTimeCreate (price
//           from the stored row, return URL under PUBLIC_BASE_URL) → tx: its id and the
//           confirmation URL stored. Shopify unreachable: the purchase fails, 503.
//   settle: the purchase is read BACK from the Admin API (a webhook only says "look"), and
//           credited once when ACTIVE with the stored id, price and currency (settlement.ts);
//           DECLINED fails it, EXPIRED expires it. Used by the app_purchases_one_time/update
//           webhook, the confirm route and the reconciler alike.
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import type { Metrics } from '../../metrics.js';
import { paymentsUnavailable } from './errors.js';
import { activePackage } from './packages.js';
import { createPendingPurchase, failUnstartedPurchase, purchaseView, type PurchaseRow } from './purchases.js';
import type { Purchase } from './schemas.js';
import { settleInShop } from './settle-in-shop.js';
import type { Settlement } from './settlement.js';
import type { ShopifyPurchaser } from './shopify-purchaser.js';

export async function startShopifyPurchase(
  db: Db,
  shopify: ShopifyPurchaser,
  actor: Actor,
  packageId: string,
  urls: { publicBaseUrl: string },
  metrics?: Metrics,
): Promise<{ purchase: Purchase; checkoutUrl: string }> {
  const shopId = actor.shopId;
  const { row, pkg } = await withShop(
    db,
    shopId,
    async (tx) => {
      const pkg = await activePackage(tx, packageId);
      return { row: await createPendingPurchase(tx, actor, pkg, 'shopify'), pkg };
    },
    actor.userId ?? undefined,
  );
  metrics?.purchaseTransitions.inc({ status: 'pending' });
  let created;
  try {
    created = await shopify.create(shopId, { name: `Pigeon: ${pkg.name}`, amountMinor: pkg.amount, currency: pkg.currency, returnUrl: `${urls.publicBaseUrl}/billing/shopify/return?purchase=${row.id}` });
  } catch (error) {
    await withShop(db, shopId, (tx) => failUnstartedPurchase(tx, actor, row, error));
    metrics?.purchaseTransitions.inc({ status: 'failed' });
    throw paymentsUnavailable();
  }
  const stored = await withShop(db, shopId, (tx) =>
    tx
      .updateTable('app.credit_purchases')
      .set({ shopify_purchase_id: created.purchase.id, checkout_url: created.confirmationUrl, updated_at: new Date() })
      .where('shop_id', '=', shopId)
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return { purchase: purchaseView(stored), checkoutUrl: created.confirmationUrl };
}

/** Reads the purchase back from Shopify and settles it. Null when no purchase of this shop has this id. */
export async function settleShopifyPurchase(
  db: Db,
  shopify: ShopifyPurchaser,
  shopId: string,
  ref: { purchaseId?: string; shopifyPurchaseId?: string },
  source: 'webhook' | 'confirm' | 'reconciler',
  options: { actor?: Actor; metrics?: Metrics | undefined } = {},
): Promise<Settlement | null> {
  const row: PurchaseRow | undefined = await readInShop(db, shopId, (tx) => {
    let query = tx.selectFrom('app.credit_purchases').selectAll().where('shop_id', '=', shopId).where('provider', '=', 'shopify');
    if (ref.purchaseId) query = query.where('id', '=', ref.purchaseId);
    if (ref.shopifyPurchaseId) query = query.where('shopify_purchase_id', '=', ref.shopifyPurchaseId);
    return query.executeTakeFirst();
  });
  if (!row || !row.shopify_purchase_id) return null;
  const found = await shopify.read(shopId, row.shopify_purchase_id);
  if (!found) return null;
  return settleInShop(
    db,
    shopId,
    row.id,
    { kind: 'shopify', purchaseId: found.id, status: found.status, amountMinor: found.amountMinor, currency: found.currency },
    source,
    { ...(options.actor ? { actor: options.actor } : {}), metrics: options.metrics },
  );
}
