// POST /webhooks/shopify. X-Shopify-Hmac-Sha256 covers the raw bytes, so this plugin keeps the
// body as bytes (its own content-type parser, encapsulated: no other route is affected) and
// nothing is parsed before the HMAC passes, checked constant-time with the app secret and,
// during a rotation, the previous one. Missing or bad HMAC: 401 and nothing changes; past
// WEBHOOK_SIGNATURE_FAILURE_MAX such failures from one address: 429. Then the headers:
// X-Shopify-Triggered-At older than SHOPIFY_WEBHOOK_MAX_AGE_HOURS (Shopify's retries keep it,
// for 48 h) or more than 5 minutes ahead: 401. A verified webhook is recorded and its job
// added in one statement (webhooks.ts); a redelivered webhook id is 200 and changes nothing;
// an unknown or uninstalled shop is 200 and recorded as ignored (Shopify retries any other
// answer for 48 hours, and a retry could change nothing).
//
// Shopify signs the body only, not the X-Shopify-* headers: a handler never trusts the
// topic or the shop header alone where the body can confirm them (uninstall.ts checks the
// shop object's myshopify_domain).
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AppError } from '../../lib/app-error.js';
import { normalizeShopDomain } from '../../lib/shopify-domain.js';
import { verifyWebhookHmac } from '../../lib/shopify-hmac.js';
import { HANDLED_TOPICS, receiveShopifyWebhook } from './webhooks.js';

export const FUTURE_SKEW_MS = 5 * 60 * 1000;
const WEBHOOK_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const TOPIC = /^[a-z0-9_]+(\/[a-z0-9_]+)+$/;
// Shopify's format: 2023-03-29T18:00:27.877041743Z (any fraction, or none; an offset is accepted too).
const TRIGGERED_AT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export function parseTriggeredAt(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const match = TRIGGERED_AT.exec(value);
  if (!match) return null;
  const at = new Date(`${match[1]}${(match[2] ?? '').slice(0, 4)}${match[3]}`);
  return Number.isNaN(at.getTime()) ? null : at;
}

const ShopifyWebhookHeaders = Type.Object(
  // Optional here so that a missing HMAC is the webhook's 401, not a validation 400.
  {
    'x-shopify-hmac-sha256': Type.Optional(Type.String({ maxLength: 200, description: 'base64 HMAC-SHA256 of the raw body with the app secret' })),
    'x-shopify-topic': Type.Optional(Type.String({ maxLength: 100 })),
    'x-shopify-shop-domain': Type.Optional(Type.String({ maxLength: 255 })),
    'x-shopify-webhook-id': Type.Optional(Type.String({ maxLength: 100 })),
    'x-shopify-triggered-at': Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);
const ShopifyWebhookAck = Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() }, { additionalProperties: false });

const header = (value: string | string[] | undefined): string | undefined => (typeof value === 'string' ? value : undefined);

export const shopifyWebhookRoutes: FastifyPluginAsync = async (app) => {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) => done(null, body));
  const maxAgeMs = app.config.shopifyWebhookMaxAgeHours * 3600 * 1000;

  app.post(
    '/webhooks/shopify',
    {
      config: { rateLimit: false as const, rawBody: true },
      schema: {
        tags: ['webhooks'],
        summary: 'Shopify webhooks (app/uninstalled; other topics recorded for their handlers)',
        description:
          'X-Shopify-Hmac-Sha256 is verified over the raw body with SHOPIFY_API_SECRET (and SHOPIFY_API_SECRET_PREVIOUS during a rotation) before anything is parsed. X-Shopify-Triggered-At older than SHOPIFY_WEBHOOK_MAX_AGE_HOURS (default 48, Shopify\'s retry window) or more than 5 minutes in the future is refused. A redelivered X-Shopify-Webhook-Id is acknowledged and changes nothing; a webhook for an unknown or uninstalled shop is acknowledged and ignored.',
        security: [],
        headers: ShopifyWebhookHeaders,
        response: { 200: ShopifyWebhookAck },
      },
    },
    async (request) => {
      const secret = app.config.shopifyApiSecret;
      if (!secret) throw new AppError(503, 'SHOPIFY_NOT_CONFIGURED', 'This server has no Shopify app configured');
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const hmac = header(request.headers['x-shopify-hmac-sha256']);
      const secrets = [secret, app.config.shopifyApiSecretPrevious].filter((s): s is string => typeof s === 'string' && s.length > 0);
      // Every secret is tried (no early exit), so the time taken does not tell which one matched.
      const verified = secrets.map((s) => verifyWebhookHmac(raw, hmac, s)).includes(true);
      if (!verified) {
        app.metrics.webhookSignatureFailures.inc({ source: 'shopify' });
        const retryAfter = await app.webhookSignatureFailure(request);
        if (retryAfter !== null) {
          throw new AppError(429, 'RATE_LIMITED', 'Too many webhook requests with a bad signature', undefined, { 'Retry-After': String(retryAfter) });
        }
        request.log.warn('shopify webhook refused: bad or missing hmac');
        throw new AppError(401, 'INVALID_HMAC', 'The webhook HMAC is missing or does not verify');
      }
      const triggeredAt = parseTriggeredAt(request.headers['x-shopify-triggered-at']);
      const now = Date.now();
      if (!triggeredAt || now - triggeredAt.getTime() > maxAgeMs || triggeredAt.getTime() - now > FUTURE_SKEW_MS) {
        request.log.warn('shopify webhook refused: triggered-at missing, beyond the horizon or in the future');
        throw new AppError(401, 'INVALID_SIGNATURE', 'The webhook is stale or dated in the future');
      }
      const rawShop = header(request.headers['x-shopify-shop-domain']);
      const shopDomain = normalizeShopDomain(rawShop);
      if (!shopDomain || shopDomain !== rawShop) throw new AppError(400, 'INVALID_SHOP', 'X-Shopify-Shop-Domain must be a *.myshopify.com domain', { field: 'headers.x-shopify-shop-domain' });
      const webhookId = header(request.headers['x-shopify-webhook-id']);
      if (!webhookId || !WEBHOOK_ID.test(webhookId)) throw new AppError(400, 'INVALID_HEADER', 'X-Shopify-Webhook-Id is missing or malformed', { field: 'headers.x-shopify-webhook-id' });
      const topic = header(request.headers['x-shopify-topic']);
      if (!topic || !TOPIC.test(topic)) throw new AppError(400, 'INVALID_HEADER', 'X-Shopify-Topic is missing or malformed', { field: 'headers.x-shopify-topic' });
      let payload: unknown;
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch {
        throw new AppError(400, 'INVALID_JSON', 'The body is not JSON');
      }
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new AppError(400, 'INVALID_JSON', 'The body is not a JSON object');
      const outcome = await receiveShopifyWebhook(app.db, { webhookId, topic, shopDomain, triggeredAt, payload: payload as Record<string, unknown> });
      request.log.info({ topic, outcome }, 'shopify webhook');
      // Headers are not signed: a topic Pigeon does not handle is counted as 'other' (bounded labels).
      app.metrics.shopifyWebhooks.inc({ topic: HANDLED_TOPICS.has(topic) ? topic : 'other', outcome });
      return { received: true, duplicate: outcome === 'duplicate' };
    },
  );
};
