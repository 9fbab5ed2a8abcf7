// Applies one shop's retention settings.
import type { Task } from 'graphile-worker';
import { parsePayload, ShopPayload } from '../src/lib/job-payload.js';
import { applyRetention } from '../src/modules/maintenance/service.js';
import { workerDb } from '../src/worker-context.js';

const shop_retention_apply: Task = async (payload, helpers) => {
  const { shopId } = parsePayload('shop_retention_apply', ShopPayload, payload);
  const result = await applyRetention(workerDb(), shopId);
  helpers.logger.info(`retention applied: ${JSON.stringify(result)}`);
};

export default shop_retention_apply;
