// Cron: release dead workers' jobs, repair campaigns that lost their jobs or whose batch
// gave up, release reservations past their expiry.
import type { Task } from 'graphile-worker';
import { reconcileCampaigns } from '../src/modules/campaigns/reconcile.js';
import { applyReadyEarlyReports } from '../src/modules/sms-webhooks/early-reports.js';
import { workerDb, workerSettings } from '../src/worker-context.js';

const campaign_reconcile: Task = async (_payload, helpers) => {
  const report = await reconcileCampaigns(workerDb(), new Date(), { heartbeatTimeoutSeconds: workerSettings().workerHeartbeatTimeoutSeconds });
  const reports = await applyReadyEarlyReports(workerDb());
  helpers.logger.info(`campaign reconcile: ${JSON.stringify({ ...report, earlyDeliveryReports: reports })}`);
};

export default campaign_reconcile;
