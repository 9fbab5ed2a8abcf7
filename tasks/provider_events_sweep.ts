// Cron: forget SMS provider event ids older than 30 days (app.provider_events, the replay guard).
import type { Task } from 'graphile-worker';
import { sweepProviderEvents } from '../src/modules/sms-webhooks/retention.js';
import { workerDb } from '../src/worker-context.js';

const provider_events_sweep: Task = async (_payload, helpers) => {
  const deleted = await sweepProviderEvents(workerDb());
  helpers.logger.info(`provider events sweep deleted ${deleted} event ids`);
};

export default provider_events_sweep;
