// Cron: delete rate-limit counters whose window has ended (app.rate_limit_hits).
import type { Task } from 'graphile-worker';
import { sql } from 'kysely';
import { workerDb } from '../src/worker-context.js';

const rate_limit_sweep: Task = async (_payload, helpers) => {
  const { rows } = await sql<{ deleted: number }>`select app_private.rate_limit_sweep() as deleted`.execute(workerDb());
  helpers.logger.info(`rate limit sweep deleted ${rows[0]?.deleted ?? 0} expired counters`);
};

export default rate_limit_sweep;
