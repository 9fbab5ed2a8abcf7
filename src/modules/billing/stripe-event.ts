// What Pigeon keeps of a Stripe event, and the settlement fact it stands for. Only ids,
// amounts and statuses are kept (never the customer's name, e-mail or address), so the
// events table holds no personal data. Types Pigeon does not handle, and events of another
// Stripe account (Connect's `account`) or of the other mode (live vs test) are recorded as
// ignored: acknowledged, never applied.
import type Stripe from 'stripe';
import type { StripeFact } from './settlement.js';

export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
  'charge.refunded',
  'charge.dispute.created',
  'charge.dispute.closed',
] as const;

export interface RecordedStripeEvent {
  id: string;
  type: string;
  createdAt: Date;
  sessionId: string | null;
  paymentIntentId: string | null;
  data: Record<string, string | number | boolean | null>;
  ignoredBecause: string | null;
}

const idOf = (value: unknown): string | null => (typeof value === 'string' ? value : value && typeof value === 'object' && typeof (value as { id?: unknown }).id === 'string' ? (value as { id: string }).id : null);
const num = (value: unknown): number | null => (typeof value === 'number' && Number.isSafeInteger(value) ? value : null);
const str = (value: unknown, max = 255): string | null => (typeof value === 'string' && value.length <= max ? value : null);

export function recordOf(event: Stripe.Event, livemode: boolean): RecordedStripeEvent {
  const object = event.data.object as unknown as Record<string, unknown>;
  const base = { id: event.id, type: event.type, createdAt: new Date(event.created * 1000) };
  let ignoredBecause: string | null = null;
  if (event.account) ignoredBecause = 'another Stripe account';
  else if (event.livemode !== livemode) ignoredBecause = event.livemode ? 'a live-mode event on a test key' : 'a test-mode event on a live key';
  else if (!(HANDLED_EVENT_TYPES as readonly string[]).includes(event.type)) ignoredBecause = 'a type Pigeon does not handle';

  if (event.type.startsWith('checkout.session.')) {
    const metadata = (object.metadata ?? {}) as Record<string, unknown>;
    return {
      ...base,
      sessionId: str(object.id),
      paymentIntentId: idOf(object.payment_intent),
      data: {
        status: str(object.status, 20),
        paymentStatus: str(object.payment_status, 30),
        amountTotal: num(object.amount_total),
        currency: str(object.currency, 3),
        clientReferenceId: str(object.client_reference_id, 200),
        metadataPurchaseId: str(metadata.purchase_id, 100),
      },
      ignoredBecause,
    };
  }
  if (event.type === 'charge.refunded') {
    return {
      ...base,
      sessionId: null,
      paymentIntentId: idOf(object.payment_intent),
      data: { chargeId: str(object.id), amount: num(object.amount), amountRefunded: num(object.amount_refunded), currency: str(object.currency, 3) },
      ignoredBecause,
    };
  }
  if (event.type.startsWith('charge.dispute.')) {
    return {
      ...base,
      sessionId: null,
      paymentIntentId: idOf(object.payment_intent),
      data: { disputeId: str(object.id), chargeId: idOf(object.charge), amount: num(object.amount), currency: str(object.currency, 3), disputeStatus: str(object.status, 40) },
      ignoredBecause,
    };
  }
  return { ...base, sessionId: null, paymentIntentId: null, data: {}, ignoredBecause };
}

/** The settlement fact of a recorded event; null when it carries none we can use. */
export function factOf(type: string, sessionId: string | null, paymentIntentId: string | null, data: Record<string, unknown>): StripeFact | null {
  if (type.startsWith('checkout.session.') && sessionId) {
    const status = data.status === 'complete' || data.status === 'expired' ? data.status : 'open';
    const paymentStatus = data.paymentStatus === 'paid' || data.paymentStatus === 'no_payment_required' ? data.paymentStatus : 'unpaid';
    return {
      kind: 'checkout',
      sessionId,
      status,
      // A completed session with payment_status 'unpaid' is a delayed payment: not paid yet.
      paymentStatus: type === 'checkout.session.async_payment_failed' ? 'unpaid' : paymentStatus,
      amountTotal: typeof data.amountTotal === 'number' ? data.amountTotal : null,
      currency: typeof data.currency === 'string' ? data.currency : null,
      clientReferenceId: typeof data.clientReferenceId === 'string' ? data.clientReferenceId : null,
      paymentIntentId,
      asyncPaymentFailed: type === 'checkout.session.async_payment_failed',
    };
  }
  if (type === 'charge.refunded' && paymentIntentId && typeof data.amount === 'number' && typeof data.amountRefunded === 'number' && typeof data.currency === 'string') {
    return { kind: 'refund', paymentIntentId, amount: data.amount, amountRefunded: data.amountRefunded, currency: data.currency };
  }
  if (type.startsWith('charge.dispute.') && paymentIntentId && typeof data.disputeId === 'string') {
    const closed = type === 'charge.dispute.closed';
    const status = !closed ? 'open' : data.disputeStatus === 'won' ? 'won' : data.disputeStatus === 'lost' ? 'lost' : null;
    if (!status) return null; // closed as warning_closed etc.: nothing changes for the money
    return { kind: 'dispute', disputeId: data.disputeId, paymentIntentId, status };
  }
  return null;
}
