// Running due jobs with graphile-worker's runOnce, the way a test can rely on: runOnce can
// resolve just before the last job's completion (or failure) is written, so this waits until
// no job is locked any more (bounded) before the test looks at the queue.
import { Logger, runOnce, type TaskList } from 'graphile-worker';
import type pg from 'pg';

const silent = () => new Logger(() => () => {});

export async function runDueJobs(db: { workerPool: pg.Pool; admin: pg.Pool }, taskList: TaskList): Promise<void> {
  await runOnce({ pgPool: db.workerPool, taskList, logger: silent() });
  for (let i = 0; i < 250; i++) {
    const { rows } = await db.admin.query('select count(*)::int as n from graphile_worker._private_jobs where locked_at is not null');
    if (rows[0].n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('a job stayed locked after runOnce');
}
