// Walks a campaign's pending recipients and adds send batches (a window at a time);
// finishes the campaign when nothing is left. See src/modules/campaigns/dispatch.ts.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { dispatchCampaign } from '../src/modules/campaigns/dispatch.js';
import { workerDb } from '../src/worker-context.js';

const campaign_dispatch: Task = async (payload, helpers) => {
  const { shopId, campaignId } = parseJob('campaign_dispatch', payload);
  const outcome = await dispatchCampaign(workerDb(), shopId, campaignId);
  helpers.logger.debug(`campaign dispatch: ${JSON.stringify(outcome)}`);
};

export default campaign_dispatch;
