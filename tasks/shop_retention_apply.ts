// Applies one shop's retention settings.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { applyRetention } from '../src/modules/maintenance/service.js';
import { workerDb } from '../src/worker-context.js';

const shop_retention_apply: Task = async (payload, helpers) => {
  const { shopId } = parseJob('shop_retention_apply', payload);
  const result = await applyRetention(workerDb(), shopId);
  helpers.logger.info(`retention applied: ${JSON.stringify(result)}`);
};

export default shop_retention_apply;
