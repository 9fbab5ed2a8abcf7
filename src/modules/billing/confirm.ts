// POST /purchases/:id/confirm: for a success page that arrives before the webhook. Reads the
// session back from Stripe by the id Pigeon stored for this purchase (a session id the
// client sends is only compared with it, never used) and applies the same settlement as
// the webhook. A session that is not this purchase's (another shop's, another purchase's,
// a different amount or currency) is refused with 409 and audited.
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import type { Metrics } from '../../metrics.js';
import type { StripeClient } from '../../providers/stripe.js';
import { audit } from '../audit/service.js';
import { billingNotConfigured, paymentsUnavailable } from './errors.js';
import { findPurchase, purchaseNotFound, purchaseView } from './purchases.js';
import type { ConfirmInput, Purchase } from './schemas.js';
import { settleInShop } from './settle-in-shop.js';
import { checkoutFactOf } from './settlement.js';
import { settleShopifyPurchase } from './shopify-checkout.js';
import type { ShopifyPurchaser } from './shopify-purchaser.js';

const refused = () => new AppError(409, 'CONFIRM_REFUSED', 'This checkout session is not the one created for this purchase');

export async function confirmPurchase(
  db: Db,
  stripe: StripeClient | null,
  actor: Actor,
  purchaseId: string,
  input: ConfirmInput,
  metrics?: Metrics,
  shopify: ShopifyPurchaser | null = null,
): Promise<Purchase> {
  const shopId = actor.shopId;
  const row = await readInShop(db, shopId, (tx) => findPurchase(tx, shopId, purchaseId), actor.userId ?? undefined);
  if (!row) throw purchaseNotFound();
  if (row.provider === 'shopify') {
    // The merchant came back from Shopify's confirmation page: read the purchase back.
    if (row.paid_at !== null || !shopify) return purchaseView(row);
    let settlement;
    try {
      settlement = await settleShopifyPurchase(db, shopify, shopId, { purchaseId: row.id }, 'confirm', { actor, metrics });
    } catch {
      throw paymentsUnavailable();
    }
    if (settlement?.outcome === 'refused') throw refused();
    return purchaseView(settlement?.purchase ?? row);
  }
  if (!stripe) throw billingNotConfigured();
  if (input.sessionId !== undefined && input.sessionId !== row.stripe_session_id) {
    await withShop(db, shopId, (tx) =>
      audit(tx, actor, { action: 'billing.confirm_refused', resourceType: 'credit_purchase', resourceId: row.id, result: 'denied', metadata: { source: 'confirm', reason: 'session_mismatch' } }),
    );
    throw refused();
  }
  if (row.provider !== 'stripe' || !row.stripe_session_id) {
    throw new AppError(409, 'PURCHASE_NOT_CONFIRMABLE', 'This purchase has no Stripe Checkout Session to confirm');
  }
  if (row.paid_at !== null) return purchaseView(row); // settled already: nothing to ask Stripe
  let session;
  try {
    session = await stripe.retrieveCheckoutSession(row.stripe_session_id);
  } catch {
    throw paymentsUnavailable();
  }
  const settlement = await settleInShop(db, shopId, row.id, checkoutFactOf(session), 'confirm', { actor, metrics });
  if (!settlement) throw purchaseNotFound();
  if (settlement.outcome === 'refused') throw refused();
  return purchaseView(settlement.purchase);
}
