// Cron: delete idempotency keys past their 24 hours (app.idempotency_keys).
import type { Task } from 'graphile-worker';
import { sweepIdempotencyKeys } from '../src/plugins/idempotency-store.js';
import { workerDb } from '../src/worker-context.js';

const idempotency_sweep: Task = async (_payload, helpers) => {
  const deleted = await sweepIdempotencyKeys(workerDb());
  helpers.logger.info(`idempotency sweep deleted ${deleted} expired keys`);
};

export default idempotency_sweep;
