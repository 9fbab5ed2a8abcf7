// Starting a purchase: a workflow over several transactions, because a Stripe call sits in
// the middle and must never run inside a database transaction.
//   1. One transaction: the purchase row (pending; credits, price and currency copied from
//      the active package the client named) and its audit row.
//   2. The shop's Stripe customer: created once (idempotency key from the shop id) and
//      remembered.
//   3. The Checkout Session, with an idempotency key derived from the purchase id (a
//      retried call returns the same session), the purchase id as client_reference_id and
//      in metadata, success and cancel URLs under PUBLIC_BASE_URL.
//   4. One transaction: the session id and URL stored on the purchase.
// Stripe unreachable at 2 or 3: the purchase is marked failed (nothing was charged) and the
// client gets a 503 to retry. A crash between 3 and 4 leaves a pending purchase without a
// session, which the reconciler marks failed: the buyer never saw a payment page for it.
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import type { Metrics } from '../../metrics.js';
import type { StripeClient } from '../../providers/stripe.js';
import type { ShopifyPurchaser } from './shopify-purchaser.js';
import { startShopifyPurchase } from './shopify-checkout.js';
import { billingNotConfigured, paymentsUnavailable } from './errors.js';
import { activePackage } from './packages.js';
import { createPendingPurchase, failUnstartedPurchase, purchaseView } from './purchases.js';
import type { Purchase, PurchaseInput } from './schemas.js';


export interface CheckoutUrls {
  publicBaseUrl: string;
}

async function stripeCustomerOf(db: Db, stripe: StripeClient, shopId: string): Promise<string> {
  const known = await readInShop(db, shopId, (tx) => tx.selectFrom('app.stripe_customers').select('customer_id').where('shop_id', '=', shopId).executeTakeFirst());
  if (known) return known.customer_id;
  // Two first purchases at once send the same idempotency key: Stripe answers both with one customer.
  const customerId = await stripe.createCustomer(shopId);
  return withShop(db, shopId, async (tx) => {
    await tx.insertInto('app.stripe_customers').values({ shop_id: shopId, customer_id: customerId }).onConflict((oc) => oc.column('shop_id').doNothing()).execute();
    const row = await tx.selectFrom('app.stripe_customers').select('customer_id').where('shop_id', '=', shopId).executeTakeFirstOrThrow();
    return row.customer_id;
  });
}

export async function startPurchase(
  db: Db,
  stripe: StripeClient | null,
  actor: Actor,
  input: PurchaseInput,
  urls: CheckoutUrls,
  metrics?: Metrics,
  shopify: ShopifyPurchaser | null = null,
): Promise<{ purchase: Purchase; checkoutUrl: string }> {
  // A shop installed from Shopify pays through Shopify's Billing API (the App Store's rule).
  if (shopify && (await shopify.isShopifyShop(actor.shopId))) return startShopifyPurchase(db, shopify, actor, input.packageId, urls, metrics);
  if (!stripe) throw billingNotConfigured();
  const shopId = actor.shopId;
  const created = await withShop(
    db,
    shopId,
    async (tx) => {
      const pkg = await activePackage(tx, input.packageId);
      return { row: await createPendingPurchase(tx, actor, pkg, 'stripe'), pkg };
    },
    actor.userId ?? undefined,
  );
  const { row, pkg } = created;
  metrics?.purchaseTransitions.inc({ status: 'pending' });

  let session;
  try {
    const customerId = await stripeCustomerOf(db, stripe, shopId);
    session = await stripe.createCheckoutSession({
      purchaseId: row.id,
      shopId,
      customerId,
      productName: pkg.name,
      credits: pkg.credits,
      amountMinor: pkg.amount,
      currency: pkg.currency,
      successUrl: `${urls.publicBaseUrl}/billing/success?purchase=${row.id}&session_id={CHECKOUT_SESSION_ID}`,
      cancelUrl: `${urls.publicBaseUrl}/billing/cancelled?purchase=${row.id}`,
    });
  } catch (error) {
    await withShop(db, shopId, (tx) => failUnstartedPurchase(tx, actor, row, error));
    metrics?.purchaseTransitions.inc({ status: 'failed' });
    throw paymentsUnavailable();
  }
  if (!session.url) throw paymentsUnavailable();
  const stored = await withShop(db, shopId, (tx) =>
    tx
      .updateTable('app.credit_purchases')
      .set({ stripe_session_id: session.id, checkout_url: session.url, checkout_expires_at: session.expiresAt, updated_at: new Date() })
      .where('shop_id', '=', shopId)
      .where('id', '=', row.id)
      .returningAll()
      .executeTakeFirstOrThrow(),
  );
  return { purchase: purchaseView(stored), checkoutUrl: session.url };
}
