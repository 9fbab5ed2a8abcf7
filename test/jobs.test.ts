// Jobs live in the same database as the state they belong to: they commit or roll back with it.
import t from 'tap';
import { scheduleRetentionForAllShops } from '../src/modules/maintenance/service.js';
import { addJob } from '../src/db/add-job.js';
import { withShop } from '../src/db/with-shop.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { loadTaskList } from '../src/task-list.js';
import { setWorkerDb } from '../src/worker-context.js';
import { startWorker } from '../src/worker.js';
import { latch } from './helpers/barrier.js';
import { createTestDatabase } from './helpers/database.js';
import { createShop } from './helpers/fixtures.js';
import { runDueJobs } from './helpers/run-jobs.js';

const db = await createTestDatabase(t);
const shopA = await createShop(db.admin, 'Shop A');
const shopB = await createShop(db.admin, 'Shop B');
const taskList = await loadTaskList();

async function jobs(): Promise<Array<{ task_identifier: string; payload: { shopId?: string }; key: string | null; priority: number }>> {
  const { rows } = await db.admin.query(
    `select t.identifier as task_identifier, j.payload, j.key, j.priority, j.attempts, j.locked_at is not null as locked, j.last_error
       from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id order by j.id`,
  );
  return rows;
}

t.afterEach(async () => {
  await db.admin.query('delete from graphile_worker._private_jobs');
});

t.test('a job added in a transaction that rolls back does not exist', async (t) => {
  await t.rejects(
    withShop(db.apiDb, shopA, async (tx) => {
      await addJob(tx, 'shop_retention_apply', { shopId: shopA }, { jobKey: `shop_retention_apply:${shopA}` });
      throw new Error('the state change failed');
    }),
    /the state change failed/,
  );
  t.same(await jobs(), []);
});

t.test('a job added in a committed transaction runs, with withShop for its shop', async (t) => {
  // An event older than the default 730-day retention, and a recent one.
  await db.admin.query(
    `insert into app.audit_events (shop_id, action, result, created_at) values
       ($1, 'old.event', 'success', now() - interval '800 days'),
       ($1, 'recent.event', 'success', now()),
       ($2, 'old.event', 'success', now() - interval '800 days')`,
    [shopA, shopB],
  );
  await withShop(db.apiDb, shopA, (tx) => addJob(tx, 'shop_retention_apply', { shopId: shopA }, { jobKey: `shop_retention_apply:${shopA}` }));
  t.equal((await jobs()).length, 1);
  setWorkerDb(db.workerDb);
  await runDueJobs(db, taskList);
  t.same(await jobs(), [], 'the job completed');
  const { rows } = await db.admin.query(`select shop_id, action from app.audit_events where action <> 'test.event' order by shop_id = $1 desc, action`, [shopA]);
  const a = rows.filter((r) => r.shop_id === shopA).map((r) => r.action);
  const b = rows.filter((r) => r.shop_id === shopB).map((r) => r.action);
  t.same(a, ['recent.event', 'retention.applied'], "shop A's old event is purged and the run is audited");
  t.same(b, ['old.event'], "shop B's data is untouched by shop A's job");
});

t.test('a payload for another shop is refused in SQL', async (t) => {
  await t.rejects(
    withShop(db.apiDb, shopA, (tx) => addJob(tx, 'shop_retention_apply', { shopId: shopB })),
    { code: 'PGJSH' },
  );
  await t.rejects(
    db.apiPool.query(`select app_private.add_job('shop_retention_apply', '{"shopId": "${shopA}"}'::jsonb)`),
    { code: 'PGNSH' },
    'no job without a current shop',
  );
  t.same(await jobs(), []);
});

t.test("a shop cannot replace or hold up another shop's jobs by naming their key or queue", async (t) => {
  await withShop(db.apiDb, shopB, (tx) => addJob(tx, 'shop_retention_apply', { shopId: shopB }, { jobKey: 'shared-key', queueName: 'q' }));
  // Shop A uses the very same key and queue: in graphile-worker's global namespace this
  // would replace B's pending job.
  await withShop(db.apiDb, shopA, (tx) => addJob(tx, 'shop_retention_apply', { shopId: shopA }, { jobKey: 'shared-key', queueName: 'q' }));
  const queued = await jobs();
  t.equal(queued.length, 2, "B's job is still there");
  t.same(queued.map((j) => j.key).sort(), [`${shopA}:shared-key`, `${shopB}:shared-key`].sort());
  const queues = await db.admin.query(
    `select distinct q.queue_name from graphile_worker._private_jobs j join graphile_worker._private_job_queues q on q.id = j.job_queue_id order by 1`,
  );
  t.same(queues.rows.map((r) => r.queue_name).sort(), [`${shopA}:q`, `${shopB}:q`].sort());
});

t.test('the API role cannot touch the job tables directly', async (t) => {
  await t.rejects(db.apiPool.query(`select * from graphile_worker._private_jobs`), { code: '42501' });
  await t.rejects(
    db.apiPool.query(`select graphile_worker.add_job('shop_retention_apply', '{}'::json)`),
    { code: '42501' },
  );
});

t.test('a job key deduplicates: the retention sweep twice makes one job per shop, behind user work', async (t) => {
  await scheduleRetentionForAllShops(db.workerDb);
  await scheduleRetentionForAllShops(db.workerDb);
  const queued = (await jobs()).filter((j) => j.task_identifier === 'shop_retention_apply');
  t.equal(queued.length, 2, 'one per shop, however often the sweep runs');
  t.same(new Set(queued.map((j) => j.payload.shopId)), new Set([shopA, shopB]));
  t.ok(queued.every((j) => j.priority === 10), 'maintenance runs after user-initiated work (priority 0)');
});

t.test('the worker process runs jobs and shuts down gracefully', async (t) => {
  const worker = await startWorker({
    connectionString: db.workerUrl,
    concurrency: 2,
    poolSize: 4,
    logger: createLogger('silent'),
    metrics: createMetrics(),
    // Without the crontab: a run that crosses a five-minute boundary would otherwise queue the
    // cron tasks, and this test (and the next) count every job in the queue.
    crontab: false,
  });
  await withShop(db.apiDb, shopB, (tx) => addJob(tx, 'shop_retention_apply', { shopId: shopB }));
  for (let i = 0; i < 100 && (await jobs()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(await jobs(), [], 'the running worker picked the job up');
  await worker.stop();
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where shop_id = $1 and action = 'retention.applied'`, [shopB]);
  t.equal(rows[0].n, 1);
});

t.test('a graceful shutdown lets a running job finish', async (t) => {
  // No sleep: the job holds until the test has asked the worker to stop.
  const started = latch();
  const release = latch();
  const worker = await startWorker({
    connectionString: db.workerUrl,
    concurrency: 1,
    poolSize: 3,
    logger: createLogger('silent'),
    metrics: createMetrics(),
    crontab: false,
    extraTasks: {
      slow_probe: async (payload) => {
        const { shopId } = payload as { shopId: string };
        started.open();
        await release.opened;
        await withShop(db.workerDb, shopId, (tx) =>
          tx.insertInto('app.audit_events').values({ shop_id: shopId, action: 'probe.finished', result: 'success' }).execute(),
        );
      },
    },
  });
  await withShop(db.apiDb, shopA, (tx) => addJob(tx, 'slow_probe', { shopId: shopA }));
  await started.opened;
  // Asked to stop while the job is mid-way (stop() asks the pool synchronously), then let go.
  const stopped = worker.stop();
  release.open();
  await stopped;
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where action = 'probe.finished'`);
  t.equal(rows[0].n, 1, 'the running job completed its work');
  t.same(await jobs(), [], 'and was marked done, not left locked or failed');
});

