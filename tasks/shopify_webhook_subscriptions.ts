// Creates the shop's missing Shopify webhook subscriptions. See src/modules/shopify/webhook-subscriptions.ts.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { ensureWebhookSubscriptions } from '../src/modules/shopify/webhook-subscriptions.js';
import { workerShopifySubscriptions } from '../src/worker-context.js';

const shopify_webhook_subscriptions: Task = async (payload, helpers) => {
  const { shopId } = parseJob('shopify_webhook_subscriptions', payload);
  const dependencies = workerShopifySubscriptions();
  if (!dependencies) throw new Error('Shopify is not configured in this worker'); // retried once it is
  const result = await ensureWebhookSubscriptions(dependencies, shopId);
  helpers.logger.info(`shopify webhook subscriptions: ${JSON.stringify(result)}`);
};

export default shopify_webhook_subscriptions;
