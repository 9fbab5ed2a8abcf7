// Cron: delete sessions (and their refresh tokens) that ended more than 30 days ago.
import type { Task } from 'graphile-worker';
import { sweepEndedSessions } from '../src/modules/auth/session-sweep.js';
import { workerDb } from '../src/worker-context.js';

const session_sweep: Task = async (_payload, helpers) => {
  const deleted = await sweepEndedSessions(workerDb());
  helpers.logger.info(`session sweep deleted ${deleted} ended sessions`);
};

export default session_sweep;
