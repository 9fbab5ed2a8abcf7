// Cron: settle purchases whose webhook was lost (Stripe and Shopify), apply events that waited
// for their purchase. See src/modules/billing/reconcile.ts.
import type { Task } from 'graphile-worker';
import { reconcileBilling } from '../src/modules/billing/reconcile.js';
import { workerDb, workerMetrics, workerShopifyPurchaser, workerStripe } from '../src/worker-context.js';

const billing_reconcile: Task = async (_payload, helpers) => {
  const stripe = workerStripe();
  const shopify = workerShopifyPurchaser();
  if (!stripe && !shopify) return;
  const report = await reconcileBilling(workerDb(), stripe, new Date(), workerMetrics(), shopify);
  helpers.logger.info(`billing reconcile: ${JSON.stringify(report)}`);
};

export default billing_reconcile;
