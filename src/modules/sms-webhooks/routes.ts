// POST /webhooks/sms/status and /webhooks/sms/inbound. The signature covers the raw body,
// so this plugin keeps JSON bodies as bytes (its own content-type parser, encapsulated:
// no other route is affected) and parses them only after the signature and timestamp
// have passed. Bad or missing signature, or a stale timestamp: 401, nothing changes, and
// past WEBHOOK_SIGNATURE_FAILURE_MAX such failures from one address in the window: 429. A
// replayed event: 200, nothing changes.
//
// HTTP only: `verified` stands in for Fastify's body parsing and validation (which cannot
// run before the signature is checked on the raw bytes): the signature itself is
// lib/sms-webhook-signature.ts, the bodies are schemas.ts, and each route then calls one
// workflow (delivery-reports.ts, inbound.ts).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../../lib/app-error.js';
import { verifySmsWebhook } from '../../lib/sms-webhook-signature.js';
import { applyDeliveryReport } from './delivery-reports.js';
import { applyInboundMessage } from './inbound.js';
import { Ack, InboundBody, SignatureHeaders, StatusBody } from './schemas.js';

export const smsWebhookRoutes: FastifyPluginAsync = async (app) => {
  // Replaces (in this plugin only) the app's depth-checked JSON parser: these bodies stay bytes.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_request, body, done) => done(null, body));

  async function verified<S extends TSchema>(request: FastifyRequest, schema: S): Promise<Static<S>> {
    const secret = app.config.smsWebhookSecret;
    if (!secret) throw new AppError(503, 'SMS_NOT_CONFIGURED', 'This server has no SMS provider configured');
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const result = verifySmsWebhook(raw, request.headers, secret);
    if (result !== 'ok') {
      app.metrics.webhookSignatureFailures.inc({ source: 'sms' });
      // Only failures count against the address: its valid signed requests are never limited.
      const retryAfter = await app.webhookSignatureFailure(request);
      if (retryAfter !== null) {
        throw new AppError(429, 'RATE_LIMITED', 'Too many webhook requests with a bad signature', undefined, { 'Retry-After': String(retryAfter) });
      }
      request.log.warn({ reason: result }, 'sms webhook refused');
      throw new AppError(401, 'INVALID_SIGNATURE', 'The webhook signature is missing, invalid or stale');
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AppError(400, 'INVALID_JSON', 'The body is not JSON');
    }
    if (!Value.Check(schema, body)) {
      const first = Value.Errors(schema, body).First();
      throw new AppError(400, 'VALIDATION_FAILED', 'The webhook body is not valid', { field: `body${first?.path.replace(/\//g, '.') ?? ''}` });
    }
    return body;
  }

  // rawBody: the body is bytes until the signature passes (no no-body schema for these routes).
  const common = { config: { rateLimit: false as const, rawBody: true } };

  app.post(
    '/webhooks/sms/status',
    {
      ...common,
      schema: { tags: ['webhooks'], summary: 'Delivery reports from the SMS provider', headers: SignatureHeaders, response: { 200: Ack } },
    },
    async (request) => {
      const report = await verified(request, StatusBody);
      const outcome = await applyDeliveryReport(app.db, report);
      return { received: true, duplicate: outcome === 'duplicate' };
    },
  );

  app.post(
    '/webhooks/sms/inbound',
    {
      ...common,
      schema: { tags: ['webhooks'], summary: 'Inbound messages (STOP/START/HELP …) from the SMS provider', headers: SignatureHeaders, response: { 200: Ack } },
    },
    async (request) => {
      const inbound = await verified(request, InboundBody);
      const outcome = await applyInboundMessage(app.db, inbound);
      if (outcome === 'unrouted') {
        app.metrics.inboundUnrouted.inc();
        request.log.warn({ eventId: inbound.eventId }, 'inbound text to a number no shop holds: kept for operators');
      }
      return { received: true, duplicate: outcome === 'duplicate' };
    },
  );
};
