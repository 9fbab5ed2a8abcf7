// The billing reconciler (cron): a lost or undelivered webhook never loses a paid purchase.
//   - Purchases pending for more than 10 minutes: their Checkout Session is read back from
//     Stripe and settled like the webhook would have (paid: credited once; expired:
//     expired). One without a session (the request died before Stripe answered) is failed:
//     its buyer never saw a payment page.
//   - Events waiting for a purchase (a refund or dispute for a payment not recorded yet):
//     the payment intent is read from Stripe; when it is one of our purchases' (its session,
//     read back by OUR stored id, names this payment intent), that purchase is settled,
//     which records the payment and wakes the waiting events. Still unmatched after 3 days
//     (Stripe's own redelivery window): ignored.
//   - Events still pending long after they arrived (their job lost): queued again.
// Stripe unreachable: the pass stops early and the next run tries again.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import type { Metrics } from '../../metrics.js';
import { StripeRefusedError, StripeUnavailableError, type StripeClient } from '../../providers/stripe.js';
import { audit } from '../audit/service.js';
import { systemActor } from '../../lib/actor.js';
import { findPurchase } from './purchases.js';
import { settleInShop } from './settle-in-shop.js';
import { checkoutFactOf, refundFactOf } from './settlement.js';
import { purchaseForStripe } from './stripe-events.js';
import { settleShopifyPurchase } from './shopify-checkout.js';
import type { ShopifyPurchaser } from './shopify-purchaser.js';

export const PENDING_PURCHASE_GRACE_MS = 10 * 60_000;
const WAITING_EVENT_GIVE_UP_MS = 3 * 86_400_000;
const BATCH = 200;

function refusedAsNull(error: unknown): null {
  if (error instanceof StripeRefusedError) return null;
  throw error;
}

export interface BillingReconcileReport {
  purchasesChecked: number;
  purchasesSettled: number;
  purchasesWithoutSession: number;
  waitingEventsMatched: number;
  waitingEventsIgnored: number;
  eventsRequeued: number;
  stripeUnavailable: boolean;
}

/** Reads a purchase's session back and settles what it says (and any refund its charge shows). */
async function settleFromStripe(db: Db, stripe: StripeClient, shopId: string, purchaseId: string, metrics?: Metrics): Promise<'settled' | 'unchanged' | 'no_session'> {
  const row = await readInShop(db, shopId, (tx) => findPurchase(tx, shopId, purchaseId));
  if (!row) return 'unchanged';
  if (!row.stripe_session_id) return 'no_session';
  const session = await stripe.retrieveCheckoutSession(row.stripe_session_id);
  const settlement = await settleInShop(db, shopId, purchaseId, checkoutFactOf(session), 'reconciler', { metrics });
  const refund = refundFactOf(session);
  if (refund && settlement?.outcome !== 'refused') await settleInShop(db, shopId, purchaseId, refund, 'reconciler', { metrics });
  return settlement?.outcome === 'applied' ? 'settled' : 'unchanged';
}

export async function reconcileBilling(db: Db, stripe: StripeClient | null, now: Date = new Date(), metrics?: Metrics, shopify: ShopifyPurchaser | null = null): Promise<BillingReconcileReport> {
  const report: BillingReconcileReport = {
    purchasesChecked: 0,
    purchasesSettled: 0,
    purchasesWithoutSession: 0,
    waitingEventsMatched: 0,
    waitingEventsIgnored: 0,
    eventsRequeued: 0,
    stripeUnavailable: false,
  };
  try {
    const { rows: stale } = await sql<{ shop_id: string; purchase_id: string }>`
      select shop_id, purchase_id from app_private.stale_pending_purchases(${new Date(now.getTime() - PENDING_PURCHASE_GRACE_MS)}, ${BATCH})`.execute(db);
    for (const { shop_id: shopId, purchase_id: purchaseId } of stale) {
      report.purchasesChecked++;
      const provider = (await readInShop(db, shopId, (tx) => findPurchase(tx, shopId, purchaseId)))?.provider;
      if (provider === 'shopify') {
        // Shopify's purchases are read back too (a lost app_purchases_one_time/update webhook).
        if (!shopify) continue;
        const settled = await settleShopifyPurchase(db, shopify, shopId, { purchaseId }, 'reconciler', { metrics }).catch(() => null);
        if (settled?.outcome === 'applied') report.purchasesSettled++;
        continue;
      }
      if (!stripe) continue;
      const outcome = await settleFromStripe(db, stripe, shopId, purchaseId, metrics).catch((error: unknown) => {
        if (error instanceof StripeRefusedError) return 'unchanged' as const; // Stripe says no such session: left for the webhook or an operator
        throw error;
      });
      if (outcome === 'settled') report.purchasesSettled++;
      if (outcome === 'no_session') {
        report.purchasesWithoutSession++;
        await withShop(db, shopId, async (tx) => {
          const failed = await tx
            .updateTable('app.credit_purchases')
            .set({ status: 'failed', failure_reason: 'checkout_not_created', updated_at: new Date() })
            .where('shop_id', '=', shopId)
            .where('id', '=', purchaseId)
            .where('status', '=', 'pending')
            .where('stripe_session_id', 'is', null)
            .executeTakeFirst();
          if (Number(failed.numUpdatedRows) > 0) {
            await audit(tx, systemActor(shopId), { action: 'billing.purchase_failed', resourceType: 'credit_purchase', resourceId: purchaseId, result: 'failure', metadata: { reason: 'checkout_not_created', source: 'reconciler' } });
            metrics?.purchaseTransitions.inc({ status: 'failed' });
          }
        });
      }
    }

    if (stripe) await reconcileStripeEvents(db, stripe, now, report, metrics);
  } catch (error) {
    if (!(error instanceof StripeUnavailableError)) throw error;
    report.stripeUnavailable = true;
  }
  return report;
}

/** Stripe events still pending (their job lost) or waiting for a purchase that Stripe can name. */
async function reconcileStripeEvents(db: Db, stripe: StripeClient, now: Date, report: BillingReconcileReport, metrics?: Metrics): Promise<void> {
  const { rows: unsettled } = await sql<{ id: string; status: 'pending' | 'waiting'; payment_intent_id: string | null; received_at: Date }>`
    select id, status, payment_intent_id, received_at from app_private.unsettled_stripe_events(${new Date(now.getTime() - PENDING_PURCHASE_GRACE_MS)}, ${BATCH})`.execute(db);
  for (const event of unsettled) {
    if (event.status === 'pending') {
      await sql`select app_private.requeue_stripe_event(${event.id})`.execute(db);
      report.eventsRequeued++;
      continue;
    }
    let matched = false;
    // Stripe not knowing the payment intent (another account's, a forgery that was signed
    // by a leaked secret) is an answer: nothing of ours to match.
    const intent = event.payment_intent_id ? await stripe.retrievePaymentIntent(event.payment_intent_id).catch(refusedAsNull) : null;
    if (event.payment_intent_id && intent) {
      const purchase = intent.metadataPurchaseId && /^[0-9a-f-]{36}$/i.test(intent.metadataPurchaseId) ? await purchaseForStripe(db, { purchaseId: intent.metadataPurchaseId }) : null;
      if (purchase) {
        // Metadata only points at a candidate; the purchase's own session must name this payment.
        await settleFromStripe(db, stripe, purchase.shopId, purchase.purchaseId, metrics);
        const recorded = await purchaseForStripe(db, { paymentIntentId: event.payment_intent_id });
        matched = recorded !== null;
      }
    }
    if (matched) report.waitingEventsMatched++;
    else if (now.getTime() - new Date(event.received_at).getTime() > WAITING_EVENT_GIVE_UP_MS) {
      await sql`select app_private.settle_stripe_event(${event.id}, 'ignored', null, 'no purchase of ours has this payment')`.execute(db);
      report.waitingEventsIgnored++;
    }
  }
}
