// Cron: repair campaigns that lost their jobs, release reservations past their expiry.
import type { Task } from 'graphile-worker';
import { reconcileCampaigns } from '../src/modules/campaigns/reconcile.js';
import { workerDb } from '../src/worker-context.js';

const campaign_reconcile: Task = async (_payload, helpers) => {
  const report = await reconcileCampaigns(workerDb());
  helpers.logger.info(`campaign reconcile: ${JSON.stringify(report)}`);
};

export default campaign_reconcile;
