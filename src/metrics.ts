// Prometheus metrics shared by the API and the worker of one process.
import client from 'prom-client';

export interface Metrics {
  registry: client.Registry;
  httpRequestDuration: client.Histogram<'method' | 'route' | 'status_code'>;
  rateLimitRefusals: client.Counter<'scope'>;
  webhookSignatureFailures: client.Counter<'source'>;
  jobOutcomes: client.Counter<'task' | 'outcome'>;
  inboundUnrouted: client.Counter;
  sendBatchesGivenUp: client.Counter<'reason'>;
  workersReleased: client.Counter;
  purchaseTransitions: client.Counter<'status'>;
  stripeEvents: client.Counter<'outcome'>;
  shopifyWebhooks: client.Counter<'topic' | 'outcome'>;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'pigeon_' });
  return {
    registry,
    httpRequestDuration: new client.Histogram({
      name: 'pigeon_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    rateLimitRefusals: new client.Counter({
      name: 'pigeon_rate_limit_refusals_total',
      help: 'Requests refused by a rate limit, by limiter scope',
      labelNames: ['scope'],
      registers: [registry],
    }),
    webhookSignatureFailures: new client.Counter({
      name: 'pigeon_webhook_signature_failures_total',
      help: 'Webhook requests refused for a bad, missing or stale signature, by sender',
      labelNames: ['source'],
      registers: [registry],
    }),
    jobOutcomes: new client.Counter({
      name: 'pigeon_job_outcomes_total',
      help: 'graphile-worker job outcomes by task: success, error (will retry), failed (no attempts left)',
      labelNames: ['task', 'outcome'],
      registers: [registry],
    }),
    inboundUnrouted: new client.Counter({
      name: 'pigeon_sms_inbound_unrouted_total',
      help: 'Inbound texts to a number no shop ever held: kept for operators (npm run inbound:unrouted)',
      registers: [registry],
    }),
    sendBatchesGivenUp: new client.Counter({
      name: 'pigeon_send_batches_given_up_total',
      help: 'Send batches resolved as failed after their attempts or outage budget ran out, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    workersReleased: new client.Counter({
      name: 'pigeon_dead_workers_released_total',
      help: 'Worker processes whose stale heartbeat got their locked jobs released',
      registers: [registry],
    }),
    purchaseTransitions: new client.Counter({
      name: 'pigeon_billing_purchases_total',
      help: 'Credit purchases entering a status (pending when created; paid, failed, expired, refunded, partially_refunded, disputed as Stripe settles them)',
      labelNames: ['status'],
      registers: [registry],
    }),
    stripeEvents: new client.Counter({
      name: 'pigeon_stripe_events_total',
      help: 'Verified Stripe webhook events by outcome: recorded, duplicate, ignored (another account or mode, unhandled type), applied, waiting, refused',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    shopifyWebhooks: new client.Counter({
      name: 'pigeon_shopify_webhooks_total',
      help: 'Verified Shopify webhooks by topic and outcome: recorded (job added), received (no handler), ignored (unknown or uninstalled shop), duplicate; then applied or ignored by the job',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    }),
  };
}
