// Cron: forget Shopify webhooks 8 days after they were triggered (past any replay horizon),
// their payloads with them; pending ones after 30 days. See migration 0100.
import type { Task } from 'graphile-worker';
import { sweepShopifyWebhooks } from '../src/modules/shopify/webhooks.js';
import { workerDb } from '../src/worker-context.js';

const shopify_webhooks_sweep: Task = async (_payload, helpers) => {
  const deleted = await sweepShopifyWebhooks(workerDb());
  helpers.logger.info(`shopify webhooks sweep deleted ${deleted} webhooks`);
};

export default shopify_webhooks_sweep;
