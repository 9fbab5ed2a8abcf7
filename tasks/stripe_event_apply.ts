// Applies one recorded Stripe event to its purchase. See src/modules/billing/stripe-events.ts.
import type { Task } from 'graphile-worker';
import { parseSystemJob } from '../src/jobs/catalogue.js';
import { applyStripeEvent } from '../src/modules/billing/stripe-events.js';
import { workerDb, workerMetrics } from '../src/worker-context.js';

const stripe_event_apply: Task = async (payload, helpers) => {
  const { eventId } = parseSystemJob('stripe_event_apply', payload);
  const outcome = await applyStripeEvent(workerDb(), eventId, workerMetrics());
  helpers.logger.debug(`stripe event ${eventId}: ${outcome}`);
};

export default stripe_event_apply;
