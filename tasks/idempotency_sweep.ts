// Cron: delete idempotency keys past their 24 hours (app.idempotency_keys).
import type { Task } from 'graphile-worker';
import { sql } from 'kysely';
import { workerDb } from '../src/worker-context.js';

const idempotency_sweep: Task = async (_payload, helpers) => {
  const { rows } = await sql<{ deleted: number }>`select app_private.idempotency_sweep() as deleted`.execute(workerDb());
  helpers.logger.info(`idempotency sweep deleted ${rows[0]?.deleted ?? 0} expired keys`);
};

export default idempotency_sweep;
