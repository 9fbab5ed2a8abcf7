// Cron: add a retention job for every shop.
import type { Task } from 'graphile-worker';
import { scheduleRetentionForAllShops } from '../src/modules/maintenance/service.js';
import { workerDb } from '../src/worker-context.js';

const retention_sweep: Task = async (_payload, helpers) => {
  const shops = await scheduleRetentionForAllShops(workerDb());
  helpers.logger.info(`retention scheduled for ${shops} shops`);
};

export default retention_sweep;
