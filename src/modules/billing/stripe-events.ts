// Stripe's webhook events, as two workflows:
//   receiveStripeEvent (the webhook, after the signature passed): ONE transaction records
//     the event (a replay inserts nothing) and adds its stripe_event_apply job; 200 at once.
//   applyStripeEvent (the job): matches the event to a purchase by our stored Stripe ids and
//     settles it in that shop's transaction (settle-in-shop.ts), which also marks the event
//     applied. An event whose purchase is not known yet (a refund or dispute for a payment
//     not recorded yet) waits: it is applied when the purchase records that payment intent,
//     or by the reconciler. Safe to run twice: a settled event is left alone.
import { sql } from 'kysely';
import type Stripe from 'stripe';
import type { Db } from '../../db/kysely.js';
import type { Metrics } from '../../metrics.js';
import { settleInShop } from './settle-in-shop.js';
import { factOf, recordOf } from './stripe-event.js';

export type ReceiveOutcome = 'recorded' | 'duplicate' | 'ignored';

export async function receiveStripeEvent(db: Db, event: Stripe.Event, livemode: boolean): Promise<ReceiveOutcome> {
  const record = recordOf(event, livemode);
  const { rows } = await sql<{ fresh: boolean }>`
    select app_private.record_stripe_event(${record.id}, ${record.type}, ${record.createdAt}, ${record.sessionId}, ${record.paymentIntentId},
      ${JSON.stringify(record.data)}::jsonb, ${record.ignoredBecause}) as fresh`.execute(db);
  if (!rows[0]?.fresh) return 'duplicate';
  return record.ignoredBecause ? 'ignored' : 'recorded';
}

interface StoredEvent {
  id: string;
  type: string;
  status: 'pending' | 'applied' | 'waiting' | 'ignored';
  session_id: string | null;
  payment_intent_id: string | null;
  data: Record<string, unknown>;
}

export type ApplyOutcome = 'applied' | 'refused' | 'waiting' | 'ignored' | 'already_settled';

async function markEvent(db: Db, eventId: string, status: 'waiting' | 'ignored', note: string): Promise<void> {
  await sql`select app_private.settle_stripe_event(${eventId}, ${status}, null, ${note})`.execute(db);
}

/** Which shop's purchase a Stripe object is, by the ids Pigeon stored (never by metadata). */
export async function purchaseForStripe(db: Db, ids: { sessionId?: string | null; paymentIntentId?: string | null; purchaseId?: string | null }) {
  const { rows } = await sql<{ shop_id: string; purchase_id: string }>`
    select shop_id, purchase_id from app_private.purchase_for_stripe(${ids.sessionId ?? null}, ${ids.paymentIntentId ?? null}, ${ids.purchaseId ?? null}::uuid)`.execute(db);
  return rows[0] ? { shopId: rows[0].shop_id, purchaseId: rows[0].purchase_id } : null;
}

export async function applyStripeEvent(db: Db, eventId: string, metrics?: Metrics): Promise<ApplyOutcome> {
  const { rows } = await sql<StoredEvent>`select id, type, status, session_id, payment_intent_id, data from app_private.stripe_event(${eventId})`.execute(db);
  const event = rows[0];
  if (!event || event.status === 'applied' || event.status === 'ignored') return 'already_settled';
  const fact = factOf(event.type, event.session_id, event.payment_intent_id, event.data);
  if (!fact) {
    await markEvent(db, eventId, 'ignored', 'carries nothing to apply');
    return 'ignored';
  }
  const find = () => (fact.kind === 'checkout' ? purchaseForStripe(db, { sessionId: fact.sessionId }) : purchaseForStripe(db, { paymentIntentId: fact.paymentIntentId }));
  let match = await find();
  if (!match) {
    // Kept, never dropped: the purchase may record this payment later (wake_stripe_events
    // requeues it then). Looked up once more after marking it, for a purchase that recorded
    // the payment in between (its wake ran before this event was waiting).
    if (event.status !== 'waiting') await markEvent(db, eventId, 'waiting', 'no purchase records this Stripe object yet');
    match = await find();
    if (!match) {
      metrics?.stripeEvents.inc({ outcome: 'waiting' });
      return 'waiting';
    }
  }
  const settlement = await settleInShop(db, match.shopId, match.purchaseId, fact, 'webhook', { eventId, metrics });
  const outcome = settlement?.outcome === 'refused' ? 'refused' : settlement ? 'applied' : 'ignored';
  metrics?.stripeEvents.inc({ outcome });
  return outcome;
}
