// Cron: forget settled Stripe events after 90 days (far past Stripe's 3 days of redelivery).
import type { Task } from 'graphile-worker';
import { sweepStripeEvents } from '../src/modules/billing/retention.js';
import { workerDb } from '../src/worker-context.js';

const stripe_events_sweep: Task = async (_payload, helpers) => {
  const deleted = await sweepStripeEvents(workerDb());
  helpers.logger.info(`stripe events sweep deleted ${deleted} events`);
};

export default stripe_events_sweep;
