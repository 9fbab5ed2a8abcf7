// Billing tests' parts: a fake Stripe (a real HTTP server) with the real SDK pointed at it,
// the app's Stripe settings, a purchase started through the API, and webhook deliveries
// signed exactly as Stripe signs them (the SDK's own header generator).
import type { FastifyInstance } from 'fastify';
import type Stripe from 'stripe';
import type { Db } from '../../src/db/kysely.js';
import { createStripeClient, type StripeClient } from '../../src/providers/stripe.js';
import { startFakeStripe, type FakeStripe } from '../../src/providers/stripe/fake-server.js';
import { applyStripeEvent } from '../../src/modules/billing/stripe-events.js';
import type { Account } from './accounts.js';

export const STRIPE_KEY = 'sk_test_pigeonTestKey0123456789abcdef';
export const STRIPE_SECRET = 'whsec_pigeonTestSigningSecret0123456789';
export const STRIPE_OLD_SECRET = 'whsec_pigeonPreviousSigningSecret987654';

export async function fakeStripeFor(t: { teardown(fn: () => unknown): void }): Promise<{ fake: FakeStripe; env: Record<string, string>; workerStripe: StripeClient }> {
  const fake = await startFakeStripe({ secretKey: STRIPE_KEY, webhookSecret: STRIPE_SECRET });
  t.teardown(() => fake.close());
  const env = { STRIPE_SECRET_KEY: STRIPE_KEY, STRIPE_WEBHOOK_SECRETS: `${STRIPE_SECRET},${STRIPE_OLD_SECRET}`, STRIPE_API_URL: fake.url, STRIPE_MAX_NETWORK_RETRIES: '0' };
  const workerStripe = createStripeClient({
    secretKey: STRIPE_KEY,
    apiUrl: fake.url,
    timeoutMs: 5000,
    maxNetworkRetries: 0,
    breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 200, volumeThreshold: 100 },
  });
  t.teardown(() => workerStripe.shutdown());
  return { fake, env, workerStripe };
}

export interface StartedPurchase {
  purchaseId: string;
  sessionId: string;
  checkoutUrl: string;
}

export async function startPurchaseVia(app: FastifyInstance, fake: FakeStripe, account: Account, packageId = 'starter'): Promise<StartedPurchase> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload: { packageId } });
  if (res.statusCode !== 201) throw new Error(`purchase failed: ${res.statusCode} ${res.body}`);
  const purchaseId = res.json().purchase.id as string;
  const session = [...fake.sessions.values()].find((s) => s.client_reference_id === purchaseId);
  if (!session) throw new Error('the fake has no session for this purchase');
  return { purchaseId, sessionId: session.id, checkoutUrl: res.json().checkoutUrl as string };
}

/** POSTs an event to the app as Stripe would (or as an attacker would, with options). */
export async function postStripeEvent(
  app: FastifyInstance,
  fake: FakeStripe,
  event: Stripe.Event,
  options: { secret?: string; timestamp?: number; header?: string | null; payload?: string } = {},
) {
  const payload = options.payload ?? JSON.stringify(event);
  const header =
    options.header === null
      ? undefined
      : (options.header ?? fake.signatureHeader(payload, { ...(options.secret ? { secret: options.secret } : {}), ...(options.timestamp ? { timestamp: options.timestamp } : {}) }));
  return app.inject({
    method: 'POST',
    url: '/webhooks/stripe',
    headers: { 'content-type': 'application/json', ...(header ? { 'stripe-signature': header } : {}) },
    payload,
  });
}

/** Delivers the event and runs its job, as the worker would. */
export async function deliverAndApply(app: FastifyInstance, fake: FakeStripe, workerDb: Db, event: Stripe.Event) {
  const res = await postStripeEvent(app, fake, event);
  if (res.statusCode !== 200) throw new Error(`webhook answered ${res.statusCode} ${res.body}`);
  return applyStripeEvent(workerDb, event.id);
}
