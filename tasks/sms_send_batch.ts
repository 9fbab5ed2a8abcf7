// Sends one batch of a campaign's recipients; a paused or unavailable provider puts the
// job back instead of failing it. See src/modules/campaigns/send-batch-job.ts.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { runSendBatchJob } from '../src/modules/campaigns/send-batch-job.js';
import { workerDb, workerMetrics, workerSettings, workerSms } from '../src/worker-context.js';

const sms_send_batch: Task = async (payload, helpers) => {
  const parsed = parseJob('sms_send_batch', payload);
  const settings = workerSettings();
  const outcome = await runSendBatchJob(parsed, {
    db: workerDb(),
    sms: workerSms,
    attempts: helpers.job.attempts,
    maxAttempts: helpers.job.max_attempts,
    retryMaxDelaySeconds: settings.sendRetryMaxDelaySeconds,
    outageGiveUpHours: settings.sendOutageGiveUpHours,
    onGiveUp: (reason) => workerMetrics()?.sendBatchesGivenUp.inc({ reason }),
  });
  helpers.logger.debug(`send batch ${parsed.batchId}: ${JSON.stringify(outcome)}`);
};

export default sms_send_batch;
