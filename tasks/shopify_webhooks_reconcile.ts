// Cron: Shopify webhooks whose job was lost or gave up are queued again. See src/modules/shopify/webhooks.ts.
import type { Task } from 'graphile-worker';
import { requeueStaleShopifyWebhooks } from '../src/modules/shopify/webhooks.js';
import { workerDb } from '../src/worker-context.js';

const shopify_webhooks_reconcile: Task = async (_payload, helpers) => {
  const requeued = await requeueStaleShopifyWebhooks(workerDb());
  if (requeued > 0) helpers.logger.warn(`shopify webhooks reconcile: ${requeued} webhooks queued again`);
};

export default shopify_webhooks_reconcile;
