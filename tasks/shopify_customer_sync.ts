// The Shopify customer backfill: bulk operation, then its result through the contacts bulk
// upsert, resuming after its checkpoint. See src/modules/shopify/sync-job.ts.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { runShopifySync } from '../src/modules/shopify/sync-job.js';
import { workerDb, workerKeyRing, workerShopifyAdmin } from '../src/worker-context.js';

const shopify_customer_sync: Task = async (payload, helpers) => {
  const { shopId, syncId } = parseJob('shopify_customer_sync', payload);
  const outcome = await runShopifySync(workerDb(), { admin: workerShopifyAdmin(), keyRing: workerKeyRing() }, shopId, syncId, {
    lastAttempt: helpers.job.attempts >= helpers.job.max_attempts,
  });
  helpers.logger.info(`shopify customer sync ${syncId}: ${outcome}`);
};

export default shopify_customer_sync;
