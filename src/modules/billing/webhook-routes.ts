// POST /webhooks/stripe. The signature covers the raw bytes, so this plugin keeps the body
// as bytes (its own content-type parser, encapsulated: no other route is affected) and
// nothing is parsed before the signature passes (lib/stripe-webhook-signature.ts: the
// stripe SDK's check, several secrets for rotation, future timestamps refused too). Bad,
// missing, stale or future signature: 401, nothing changes, and past
// WEBHOOK_SIGNATURE_FAILURE_MAX such failures from one address: 429. A verified event is
// recorded and its job added in one transaction (stripe-events.ts); a replay is 200 and
// changes nothing.
import type { FastifyPluginAsync } from 'fastify';
import { AppError } from '../../lib/app-error.js';
import { verifyStripeWebhook } from '../../lib/stripe-webhook-signature.js';
import { StripeWebhookAck, StripeWebhookHeaders } from './schemas.js';
import { receiveStripeEvent } from './stripe-events.js';

export const stripeWebhookRoutes: FastifyPluginAsync = async (app) => {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_request, body, done) => done(null, body));
  const livemode = app.config.stripeSecretKey?.startsWith('sk_live_') || app.config.stripeSecretKey?.startsWith('rk_live_') || false;

  app.post(
    '/webhooks/stripe',
    {
      config: { rateLimit: false as const, rawBody: true },
      schema: {
        tags: ['webhooks'],
        summary: 'Stripe events (Checkout, refunds, disputes)',
        description:
          'Stripe-Signature is verified over the raw body with the stripe SDK (300 s tolerance; a timestamp more than 300 s in the future is refused too); every secret in STRIPE_WEBHOOK_SECRETS is tried. The event is recorded and applied by a job; a replayed event id is acknowledged and changes nothing. Events of another account or mode, and types Pigeon does not handle, are acknowledged and ignored.',
        security: [],
        headers: StripeWebhookHeaders,
        response: { 200: StripeWebhookAck },
      },
    },
    async (request) => {
      if (app.config.stripeWebhookSecrets.length === 0) throw new AppError(503, 'BILLING_NOT_CONFIGURED', 'This server has no Stripe webhook secret configured');
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const check = verifyStripeWebhook(raw, request.headers['stripe-signature'], app.config.stripeWebhookSecrets);
      if (!check.ok) {
        app.metrics.webhookSignatureFailures.inc({ source: 'stripe' });
        const retryAfter = await app.webhookSignatureFailure(request);
        if (retryAfter !== null) {
          throw new AppError(429, 'RATE_LIMITED', 'Too many webhook requests with a bad signature', undefined, { 'Retry-After': String(retryAfter) });
        }
        request.log.warn({ reason: check.reason }, 'stripe webhook refused');
        throw new AppError(401, 'INVALID_SIGNATURE', 'The webhook signature is missing, invalid, stale or future-dated');
      }
      const outcome = await receiveStripeEvent(app.db, check.event, livemode);
      app.metrics.stripeEvents.inc({ outcome });
      return { received: true, duplicate: outcome === 'duplicate' };
    },
  );
};
