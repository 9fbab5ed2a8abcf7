// One settlement in its own tenant transaction: lock the purchase, apply the fact, audit a
// refusal, settle the Stripe event that carried it (in the same transaction, so an event is
// marked applied exactly when its effect commits), and ask for the receipt once paid.
// Shared by the webhook's job, the confirm route and the reconciler.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withShop } from '../../db/with-shop.js';
import { systemActor, type Actor } from '../../lib/actor.js';
import type { Metrics } from '../../metrics.js';
import { addShopJob } from '../../jobs/catalogue.js';
import { audit } from '../audit/service.js';
import { lockPurchase } from './purchases.js';
import { settle, type Settlement, type SettlementSource, type PurchaseFact } from './settlement.js';

export interface SettleOptions {
  actor?: Actor;
  /** The Stripe event that carried the fact: settled in the same transaction. */
  eventId?: string;
  metrics?: Metrics | undefined;
}

export async function settleInShop(db: Db, shopId: string, purchaseId: string, fact: PurchaseFact, source: SettlementSource, options: SettleOptions = {}): Promise<Settlement | null> {
  const actor = options.actor ?? systemActor(shopId);
  const settlement = await withShop(
    db,
    shopId,
    async (tx) => {
      const row = await lockPurchase(tx, shopId, purchaseId);
      if (!row) {
        if (options.eventId) await sql`select app_private.settle_stripe_event(${options.eventId}, 'ignored', null, 'the purchase no longer exists')`.execute(tx);
        return null;
      }
      const result = await settle(tx, actor, row, fact, source);
      if (result.outcome === 'refused') {
        await audit(tx, actor, {
          action: source === 'confirm' ? 'billing.confirm_refused' : 'billing.payment_refused',
          resourceType: 'credit_purchase',
          resourceId: row.id,
          result: 'denied',
          metadata: { source, reason: result.reason, ...(options.eventId ? { eventId: options.eventId } : {}) },
        });
      }
      if (options.eventId) {
        await sql`select app_private.settle_stripe_event(${options.eventId}, ${result.outcome === 'refused' ? 'ignored' : 'applied'}, ${row.id}::uuid, ${result.reason ?? null})`.execute(tx);
      }
      if (result.statusChangedTo === 'paid' && !result.purchase.receipt_url && result.purchase.provider === 'stripe') {
        await addShopJob(tx, 'billing_purchase_receipt', { shopId, purchaseId: row.id });
      }
      return result;
    },
    actor.userId ?? undefined,
  );
  if (settlement?.statusChangedTo) options.metrics?.purchaseTransitions.inc({ status: settlement.statusChangedTo });
  return settlement;
}
