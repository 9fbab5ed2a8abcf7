// Stripe, as Pigeon calls it: the official SDK with the API version pinned, a timeout and
// bounded network retries on every call, an idempotency key on every POST (derived from
// our own ids, so a retried request can never create a second customer or session), and a
// circuit breaker like the SMS provider's: during an outage a call fails fast instead of
// waiting out its timeout. Errors are typed: StripeUnavailableError is worth retrying
// later (network, 5xx, 429, open circuit); StripeRefusedError is Stripe saying no (4xx),
// and never opens the circuit. No key, card or customer detail is ever put in an error.
//
// Only the fields Pigeon reads leave this file (CheckoutSession, PaymentIntent): the rest of
// Stripe's objects, customer details included, are never passed on or stored.
import CircuitBreaker from 'opossum';
import Stripe from 'stripe';

/** The API version every request names (the SDK's own, pinned with the SDK's exact version). */
export const STRIPE_API_VERSION = Stripe.API_VERSION as Stripe.LatestApiVersion;

export class StripeUnavailableError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'StripeUnavailableError';
  }
}

export class StripeRefusedError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
  ) {
    super(`Stripe refused the request (${status} ${code})`);
    this.name = 'StripeRefusedError';
  }
}

export interface StripeClientOptions {
  secretKey: string;
  /** Where the API lives; absent: api.stripe.com. Tests and local runs point it at the fake. */
  apiUrl?: string | undefined;
  timeoutMs: number;
  maxNetworkRetries: number;
  breaker: { errorThresholdPercentage: number; resetTimeoutMs: number; volumeThreshold: number };
  onBreakerState?: (state: 'open' | 'halfOpen' | 'closed') => void;
}

export interface CheckoutSession {
  id: string;
  status: 'open' | 'complete' | 'expired';
  paymentStatus: 'paid' | 'unpaid' | 'no_payment_required';
  amountTotal: number | null;
  currency: string | null;
  clientReferenceId: string | null;
  /** metadata.purchase_id as Stripe holds it (informative: ownership is checked by our stored ids). */
  metadataPurchaseId: string | null;
  paymentIntentId: string | null;
  url: string | null;
  expiresAt: Date | null;
  /** From the expanded payment intent's latest charge, when there is one. */
  receiptUrl: string | null;
  amountRefunded: number | null;
}

export interface PaymentIntent {
  id: string;
  status: string;
  amount: number;
  currency: string;
  metadataPurchaseId: string | null;
  receiptUrl: string | null;
  amountRefunded: number | null;
}

export interface CheckoutInput {
  purchaseId: string;
  shopId: string;
  customerId: string;
  productName: string;
  credits: number;
  amountMinor: number;
  currency: string;
  successUrl: string;
  cancelUrl: string;
}

export interface StripeClient {
  /** Signed-event verification uses the same SDK (src/lib/stripe-webhook-signature.ts). */
  createCustomer(shopId: string): Promise<string>;
  createCheckoutSession(input: CheckoutInput): Promise<CheckoutSession>;
  retrieveCheckoutSession(sessionId: string): Promise<CheckoutSession>;
  retrievePaymentIntent(paymentIntentId: string): Promise<PaymentIntent>;
  breakerState(): 'open' | 'halfOpen' | 'closed';
  shutdown(): void;
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
}

function chargeFields(charge: string | Stripe.Charge | null | undefined): { receiptUrl: string | null; amountRefunded: number | null } {
  if (!charge || typeof charge === 'string') return { receiptUrl: null, amountRefunded: null };
  return { receiptUrl: charge.receipt_url ?? null, amountRefunded: charge.amount_refunded ?? null };
}

export function toCheckoutSession(session: Stripe.Checkout.Session): CheckoutSession {
  const intent = session.payment_intent;
  const charge = intent && typeof intent !== 'string' ? intent.latest_charge : null;
  return {
    id: session.id,
    status: (session.status ?? 'open') as CheckoutSession['status'],
    paymentStatus: session.payment_status as CheckoutSession['paymentStatus'],
    amountTotal: session.amount_total ?? null,
    currency: session.currency ?? null,
    clientReferenceId: session.client_reference_id ?? null,
    metadataPurchaseId: session.metadata?.purchase_id ?? null,
    paymentIntentId: idOf(intent),
    url: session.url ?? null,
    expiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null,
    ...chargeFields(charge),
  };
}

function toPaymentIntent(intent: Stripe.PaymentIntent): PaymentIntent {
  return {
    id: intent.id,
    status: intent.status,
    amount: intent.amount,
    currency: intent.currency,
    metadataPurchaseId: intent.metadata?.purchase_id ?? null,
    ...chargeFields(intent.latest_charge),
  };
}

/** Our reading of an SDK error: worth retrying later, or Stripe's answer. */
function classify(error: unknown): Error {
  if (error instanceof Stripe.errors.StripeError) {
    const status = error.statusCode;
    if (status === undefined || status >= 500 || status === 429 || status === 409 || error instanceof Stripe.errors.StripeConnectionError) {
      return new StripeUnavailableError(status ? `Stripe answered ${status}` : 'Stripe could not be reached', status);
    }
    return new StripeRefusedError((error.code ?? error.type ?? 'error').slice(0, 64), status);
  }
  return new StripeUnavailableError('Stripe could not be reached');
}

export function createStripeClient(options: StripeClientOptions): StripeClient {
  const target = options.apiUrl ? new URL(options.apiUrl) : null;
  const stripe = new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    timeout: options.timeoutMs,
    maxNetworkRetries: options.maxNetworkRetries,
    telemetry: false,
    ...(target
      ? { host: target.hostname, port: Number(target.port || (target.protocol === 'https:' ? 443 : 80)), protocol: target.protocol === 'https:' ? ('https' as const) : ('http' as const) }
      : {}),
  });

  const breaker = new CircuitBreaker(async (call: () => Promise<unknown>) => {
    try {
      return await call();
    } catch (error) {
      throw classify(error);
    }
  }, {
    timeout: false, // the SDK times each request out itself
    errorThresholdPercentage: options.breaker.errorThresholdPercentage,
    resetTimeout: options.breaker.resetTimeoutMs,
    volumeThreshold: options.breaker.volumeThreshold,
    rollingCountTimeout: 10_000,
    // Stripe refusing a request is Stripe working: it must not open the circuit.
    errorFilter: (error: unknown) => error instanceof StripeRefusedError,
  });
  breaker.on('open', () => options.onBreakerState?.('open'));
  breaker.on('halfOpen', () => options.onBreakerState?.('halfOpen'));
  breaker.on('close', () => options.onBreakerState?.('closed'));

  async function fire<T>(call: () => Promise<T>): Promise<T> {
    try {
      return (await breaker.fire(call)) as T;
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') throw new StripeUnavailableError('the Stripe circuit is open: payments are unavailable until it recovers');
      throw error;
    }
  }

  return {
    async createCustomer(shopId) {
      const customer = await fire(() =>
        stripe.customers.create({ metadata: { shop_id: shopId }, description: `Pigeon shop ${shopId}` }, { idempotencyKey: `pigeon-customer-${shopId}` }),
      );
      return customer.id;
    },
    async createCheckoutSession(input) {
      const session = await fire(() =>
        stripe.checkout.sessions.create(
          {
            mode: 'payment',
            customer: input.customerId,
            client_reference_id: input.purchaseId,
            metadata: { purchase_id: input.purchaseId, shop_id: input.shopId },
            payment_intent_data: { metadata: { purchase_id: input.purchaseId, shop_id: input.shopId } },
            line_items: [
              {
                quantity: 1,
                price_data: { currency: input.currency, unit_amount: input.amountMinor, product_data: { name: input.productName, metadata: { credits: String(input.credits) } } },
              },
            ],
            success_url: input.successUrl,
            cancel_url: input.cancelUrl,
          },
          { idempotencyKey: `pigeon-checkout-${input.purchaseId}` },
        ),
      );
      return toCheckoutSession(session);
    },
    async retrieveCheckoutSession(sessionId) {
      const session = await fire(() => stripe.checkout.sessions.retrieve(sessionId, { expand: ['payment_intent.latest_charge'] }));
      return toCheckoutSession(session);
    },
    async retrievePaymentIntent(paymentIntentId) {
      const intent = await fire(() => stripe.paymentIntents.retrieve(paymentIntentId, { expand: ['latest_charge'] }));
      return toPaymentIntent(intent);
    },
    breakerState: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed'),
    shutdown: () => breaker.shutdown(),
  };
}

/** The client the configuration describes; null without STRIPE_SECRET_KEY (billing answers 503). */
export function stripeClientFromConfig(config: {
  stripeSecretKey?: string | undefined;
  stripeApiUrl?: string | undefined;
  stripeTimeoutMs: number;
  stripeMaxNetworkRetries: number;
}): StripeClient | null {
  if (!config.stripeSecretKey) return null;
  return createStripeClient({
    secretKey: config.stripeSecretKey,
    apiUrl: config.stripeApiUrl,
    timeoutMs: config.stripeTimeoutMs,
    maxNetworkRetries: config.stripeMaxNetworkRetries,
    breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 30_000, volumeThreshold: 5 },
  });
}
