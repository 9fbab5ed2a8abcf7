// Settlement: what Stripe says about a purchase, applied to it. One function per kind of
// fact (a checkout session's state, a charge's refunds, a dispute), each run on the purchase
// row locked by the caller, whoever the caller is: the webhook's job, the confirm route or
// the reconciler. They may race; the row lock orders them and the ledger's idempotency keys
// make the money move once:
//   - the credit is one 'purchase' entry keyed by the purchase id;
//   - a reversal (refund, lost dispute) is keyed by the purchase and the cumulative credits
//     to take back, so the same refund seen twice takes nothing more.
// Facts arrive in any order: refunded amounts only grow (the largest seen wins), a closed
// dispute is never reopened by an older "created", and a refund seen before the payment is
// remembered and taken back as soon as the payment is credited.
//
// Ownership is checked against what Pigeon stored when it created the session (its id, the
// purchase id it put in client_reference_id, the amount and currency it asked for), never
// against metadata: a fact that does not match is refused and the caller audits it.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { addSendingHold, removeSendingHold } from '../settings/service.js';
import { applyCreditEntry } from '../wallet/service.js';
import type { CheckoutSession } from '../../providers/stripe.js';
import type { PurchaseRow } from './purchases.js';
import type { PurchaseStatus } from './schemas.js';

export interface CheckoutFact {
  kind: 'checkout';
  sessionId: string;
  status: 'open' | 'complete' | 'expired';
  paymentStatus: 'paid' | 'unpaid' | 'no_payment_required';
  amountTotal: number | null;
  currency: string | null;
  clientReferenceId: string | null;
  paymentIntentId: string | null;
  /** checkout.session.async_payment_failed: the delayed payment did not go through. */
  asyncPaymentFailed?: boolean;
  receiptUrl?: string | null;
}

export interface RefundFact {
  kind: 'refund';
  paymentIntentId: string;
  amount: number;
  /** Cumulative, as the charge reports it. */
  amountRefunded: number;
  currency: string;
}

export interface DisputeFact {
  kind: 'dispute';
  disputeId: string;
  paymentIntentId: string;
  status: 'open' | 'won' | 'lost';
}

/** A Shopify one-time app purchase as read back from the Admin API. */
export interface ShopifyPurchaseFact {
  kind: 'shopify';
  purchaseId: string;
  status: 'PENDING' | 'ACTIVE' | 'DECLINED' | 'EXPIRED';
  amountMinor: number | null;
  currency: string | null;
}

export type StripeFact = CheckoutFact | RefundFact | DisputeFact;
export type PurchaseFact = StripeFact | ShopifyPurchaseFact;
export type SettlementSource = 'webhook' | 'confirm' | 'reconciler';

export interface Settlement {
  outcome: 'applied' | 'unchanged' | 'refused';
  /** Why a fact was refused (never shown to the client beyond a code). */
  reason?: 'session_mismatch' | 'reference_mismatch' | 'payment_intent_mismatch' | 'amount_mismatch' | 'currency_mismatch';
  purchase: PurchaseRow;
  /** Set when the purchase's status changed: the new one (metrics count these). */
  statusChangedTo?: PurchaseStatus;
}

export const disputeHold = (disputeId: string) => `billing:dispute:${disputeId}`;
export const shortfallHold = (purchaseId: string) => `billing:refund_shortfall:${purchaseId}`;

/** The status that the purchase's money facts add up to (a pending, failed or expired purchase that was never paid keeps its own). */
export function derivedStatus(row: Pick<PurchaseRow, 'status' | 'paid_at' | 'dispute_status' | 'amount_refunded_minor' | 'amount_minor'>): PurchaseStatus {
  if (row.paid_at === null) return row.status;
  if (row.dispute_status === 'open' || row.dispute_status === 'lost') return 'disputed';
  const refunded = Number(row.amount_refunded_minor);
  if (refunded >= Number(row.amount_minor)) return 'refunded';
  if (refunded > 0) return 'partially_refunded';
  return 'paid';
}

type Changes = Partial<Pick<PurchaseRow, 'status' | 'stripe_payment_intent_id' | 'receipt_url' | 'amount_refunded_minor' | 'credits_reversed' | 'credit_shortfall' | 'dispute_id' | 'dispute_status' | 'failure_reason' | 'paid_at'>>;

async function save(tx: Tx, row: PurchaseRow, changes: Changes): Promise<PurchaseRow> {
  const next = { ...row, ...changes };
  const status = derivedStatus(next);
  const updated = await tx
    .updateTable('app.credit_purchases')
    .set({ ...changes, status, amount_refunded_minor: String(next.amount_refunded_minor), updated_at: sql<Date>`now()` } as never)
    .where('shop_id', '=', row.shop_id)
    .where('id', '=', row.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return updated;
}

function result(before: PurchaseRow, after: PurchaseRow, outcome: Settlement['outcome']): Settlement {
  return { outcome, purchase: after, ...(after.status !== before.status ? { statusChangedTo: after.status } : {}) };
}

const record = (tx: Tx, actor: Actor, row: PurchaseRow, action: string, metadata: Record<string, unknown>, outcome: 'success' | 'failure' | 'denied' = 'success') =>
  audit(tx, actor, { action, resourceType: 'credit_purchase', resourceId: row.id, result: outcome, metadata });

/**
 * Takes back what refunds (or a lost dispute) make due and has not been taken yet: only the
 * credits not spent or reserved; the rest is the shortfall, which holds the shop's sending
 * until an operator decides.
 */
async function reverseDueCredits(tx: Tx, actor: Actor, row: PurchaseRow, source: SettlementSource): Promise<PurchaseRow> {
  if (row.paid_at === null) return row; // nothing was credited yet: the credit will settle it
  const amount = Number(row.amount_minor);
  const refunded = Math.min(Number(row.amount_refunded_minor), amount);
  const due = row.dispute_status === 'lost' ? row.credits : Math.floor((row.credits * refunded) / amount);
  const missing = due - row.credits_reversed - row.credit_shortfall;
  if (missing <= 0) return row;
  const { rows } = await sql<{ taken: string; shortfall: string }>`
    select taken, shortfall from app_private.reverse_credits(${missing}::bigint, ${`reversal:${row.id}:${due}`}, 'purchase', ${row.id},
      ${row.dispute_status === 'lost' ? 'payment dispute lost' : 'payment refunded'})`.execute(tx);
  const taken = Number(rows[0]!.taken);
  const shortfall = Number(rows[0]!.shortfall);
  const next = await save(tx, row, { credits_reversed: row.credits_reversed + taken, credit_shortfall: row.credit_shortfall + shortfall });
  await record(tx, actor, next, row.dispute_status === 'lost' ? 'billing.dispute_lost' : 'billing.purchase_refunded', {
    source,
    amountRefunded: refunded,
    creditsTaken: taken,
    creditShortfall: shortfall,
  });
  if (shortfall > 0) {
    await addSendingHold(tx, row.shop_id, shortfallHold(row.id));
    await record(tx, actor, next, 'billing.refund_shortfall', { source, creditsSpent: shortfall, hold: shortfallHold(row.id) });
  }
  return next;
}

/**
 * The purchase is paid: its credits, once (the ledger entry is keyed by the purchase id,
 * whichever of webhook, confirm or reconciler gets here first), then whatever refunds were
 * already reported.
 */
async function creditPaid(tx: Tx, actor: Actor, row: PurchaseRow, source: SettlementSource): Promise<PurchaseRow> {
  const entry = await applyCreditEntry(tx, {
    shopId: row.shop_id,
    kind: 'purchase',
    credits: row.credits,
    idempotencyKey: row.id,
    referenceType: 'purchase',
    referenceId: row.id,
    reason: `credit package ${row.package_id}`,
    actorId: actor.userId,
  });
  // The moment of the credit itself (not the transaction's start): what receipt-to-credit latency is measured against.
  const next = await save(tx, row, { paid_at: sql<Date>`clock_timestamp()` as unknown as Date, failure_reason: null });
  await record(tx, actor, next, 'billing.purchase_paid', { source, provider: row.provider, credits: row.credits, amount: Number(row.amount_minor), currency: row.currency, ledgerEntry: entry.entryId });
  return reverseDueCredits(tx, actor, next, source);
}

async function settleCheckout(tx: Tx, actor: Actor, row: PurchaseRow, fact: CheckoutFact, source: SettlementSource): Promise<Settlement> {
  if (row.stripe_session_id === null || fact.sessionId !== row.stripe_session_id) return { outcome: 'refused', reason: 'session_mismatch', purchase: row };
  if (fact.clientReferenceId !== row.id) return { outcome: 'refused', reason: 'reference_mismatch', purchase: row };
  if (row.stripe_payment_intent_id && fact.paymentIntentId && fact.paymentIntentId !== row.stripe_payment_intent_id) {
    return { outcome: 'refused', reason: 'payment_intent_mismatch', purchase: row };
  }
  if (fact.amountTotal !== Number(row.amount_minor)) return { outcome: 'refused', reason: 'amount_mismatch', purchase: row };
  if ((fact.currency ?? '').toLowerCase() !== row.currency) return { outcome: 'refused', reason: 'currency_mismatch', purchase: row };

  if (fact.paymentStatus === 'paid') {
    let next = row;
    if (!row.stripe_payment_intent_id && fact.paymentIntentId) {
      next = await save(tx, next, { stripe_payment_intent_id: fact.paymentIntentId });
      // Events about this payment that arrived before it was known (a refund, a dispute).
      await sql`select app_private.wake_stripe_events(${fact.paymentIntentId})`.execute(tx);
    }
    if (fact.receiptUrl && !next.receipt_url) next = await save(tx, next, { receipt_url: fact.receiptUrl });
    if (next.paid_at !== null) return result(row, next, next === row ? 'unchanged' : 'applied');
    return result(row, await creditPaid(tx, actor, next, source), 'applied');
  }
  if (row.status !== 'pending') return result(row, row, 'unchanged');
  if (fact.status === 'expired') {
    const next = await save(tx, row, { status: 'expired', failure_reason: 'checkout_expired' });
    await record(tx, actor, next, 'billing.purchase_expired', { source });
    return result(row, next, 'applied');
  }
  if (fact.asyncPaymentFailed) {
    const next = await save(tx, row, { status: 'failed', failure_reason: 'payment_failed' });
    await record(tx, actor, next, 'billing.purchase_failed', { source, reason: 'payment_failed' });
    return result(row, next, 'applied');
  }
  return result(row, row, 'unchanged'); // still open, or paid later (a delayed payment method)
}

async function settleRefund(tx: Tx, actor: Actor, row: PurchaseRow, fact: RefundFact, source: SettlementSource): Promise<Settlement> {
  if (fact.paymentIntentId !== row.stripe_payment_intent_id) return { outcome: 'refused', reason: 'payment_intent_mismatch', purchase: row };
  if (fact.currency.toLowerCase() !== row.currency) return { outcome: 'refused', reason: 'currency_mismatch', purchase: row };
  if (fact.amountRefunded <= Number(row.amount_refunded_minor)) return result(row, row, 'unchanged'); // an older or repeated report
  let next = await save(tx, row, { amount_refunded_minor: String(Math.min(fact.amountRefunded, Number(row.amount_minor))) });
  next = await reverseDueCredits(tx, actor, next, source);
  return result(row, next, 'applied');
}

async function settleDispute(tx: Tx, actor: Actor, row: PurchaseRow, fact: DisputeFact, source: SettlementSource): Promise<Settlement> {
  if (fact.paymentIntentId !== row.stripe_payment_intent_id) return { outcome: 'refused', reason: 'payment_intent_mismatch', purchase: row };
  const closed = row.dispute_status === 'won' || row.dispute_status === 'lost';
  if (row.dispute_id === fact.disputeId && (row.dispute_status === fact.status || (closed && fact.status === 'open'))) return result(row, row, 'unchanged');
  let next = await save(tx, row, { dispute_id: fact.disputeId, dispute_status: fact.status });
  const hold = disputeHold(fact.disputeId);
  if (fact.status === 'open') {
    await addSendingHold(tx, row.shop_id, hold);
    await record(tx, actor, next, 'billing.purchase_disputed', { source, disputeId: fact.disputeId, hold });
  } else if (fact.status === 'won') {
    await removeSendingHold(tx, row.shop_id, hold);
    await record(tx, actor, next, 'billing.dispute_won', { source, disputeId: fact.disputeId });
  } else {
    // Lost: the money is gone. The hold stays for an operator; the credits are taken back.
    await addSendingHold(tx, row.shop_id, hold);
    next = await reverseDueCredits(tx, actor, next, source);
  }
  return result(row, next, 'applied');
}

async function settleShopify(tx: Tx, actor: Actor, row: PurchaseRow, fact: ShopifyPurchaseFact, source: SettlementSource): Promise<Settlement> {
  if (row.provider !== 'shopify' || row.shopify_purchase_id === null || fact.purchaseId !== row.shopify_purchase_id) return { outcome: 'refused', reason: 'reference_mismatch', purchase: row };
  if (fact.amountMinor !== Number(row.amount_minor)) return { outcome: 'refused', reason: 'amount_mismatch', purchase: row };
  if ((fact.currency ?? '').toLowerCase() !== row.currency) return { outcome: 'refused', reason: 'currency_mismatch', purchase: row };
  if (fact.status === 'ACTIVE') {
    if (row.paid_at !== null) return result(row, row, 'unchanged');
    return result(row, await creditPaid(tx, actor, row, source), 'applied');
  }
  if (row.status !== 'pending' || fact.status === 'PENDING') return result(row, row, 'unchanged');
  const next = await save(tx, row, fact.status === 'EXPIRED' ? { status: 'expired', failure_reason: 'confirmation_expired' } : { status: 'failed', failure_reason: 'declined' });
  await record(tx, actor, next, fact.status === 'EXPIRED' ? 'billing.purchase_expired' : 'billing.purchase_failed', { source, provider: 'shopify', reason: next.failure_reason });
  return result(row, next, 'applied');
}

/** Applies one fact to a purchase row the caller has locked (lockPurchase). */
export function settle(tx: Tx, actor: Actor, row: PurchaseRow, fact: PurchaseFact, source: SettlementSource): Promise<Settlement> {
  switch (fact.kind) {
    case 'shopify':
      return settleShopify(tx, actor, row, fact, source);
    case 'checkout':
      return settleCheckout(tx, actor, row, fact, source);
    case 'refund':
      return settleRefund(tx, actor, row, fact, source);
    case 'dispute':
      return settleDispute(tx, actor, row, fact, source);
  }
}

/** The fact a Checkout Session read back from Stripe states (confirm, reconciler). */
export function checkoutFactOf(session: CheckoutSession): CheckoutFact {
  return {
    kind: 'checkout',
    sessionId: session.id,
    status: session.status,
    paymentStatus: session.paymentStatus,
    amountTotal: session.amountTotal,
    currency: session.currency,
    clientReferenceId: session.clientReferenceId,
    paymentIntentId: session.paymentIntentId,
    receiptUrl: session.receiptUrl,
  };
}

/** A payment intent's refunds as a fact (the reconciler, when the charge says more than we know). */
export function refundFactOf(session: CheckoutSession): RefundFact | null {
  if (!session.paymentIntentId || session.amountRefunded === null || session.amountTotal === null || !session.currency) return null;
  return { kind: 'refund', paymentIntentId: session.paymentIntentId, amount: session.amountTotal, amountRefunded: session.amountRefunded, currency: session.currency };
}
