// Applies one recorded Shopify webhook. See src/modules/shopify/webhooks.ts.
import type { Task } from 'graphile-worker';
import { parseSystemJob } from '../src/jobs/catalogue.js';
import { applyShopifyWebhook } from '../src/modules/shopify/webhooks.js';
import { workerDb, workerMetrics, workerShopifyPurchaser } from '../src/worker-context.js';

const shopify_webhook_apply: Task = async (payload, helpers) => {
  const { webhookId } = parseSystemJob('shopify_webhook_apply', payload);
  const outcome = await applyShopifyWebhook(workerDb(), webhookId, { shopifyPurchaser: workerShopifyPurchaser(), metrics: workerMetrics() });
  helpers.logger.debug(`shopify webhook ${webhookId}: ${outcome}`);
};

export default shopify_webhook_apply;
