// The send pipeline finishes by itself, as the fault runs broke it: a worker killed with
// kill -9 while it holds a job, the worker's database connections cut under it (what a
// Postgres restart does), the finishing dispatch racing the job being picked up, a batch
// that uses all its attempts, a shop paused for longer than any retry budget, a provider
// outage, and delivery reports that arrive before their message is recorded.
// Interleavings are forced with row locks the test observes, never with sleeps.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { sql } from 'kysely';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { campaignFixtures, fakeProviderFor, SMS_KEY, SMS_SECRET } from './helpers/campaign-fixtures.js';
import { inheritedEnv } from '../src/config.js';
import { withShop } from '../src/db/with-shop.js';
import { createLogger } from '../src/logger.js';
import { recordHeartbeat, releaseDeadWorkers } from '../src/jobs/worker-heartbeat.js';
import { createMetrics } from '../src/metrics.js';
import { startWorker } from '../src/worker.js';
import { dispatchCampaign, requestDispatch } from '../src/modules/campaigns/dispatch.js';
import { sendBatch, type SmsSender } from '../src/modules/campaigns/send.js';
import { giveUpBatch, runSendBatchJob, PAUSED_RECHECK_SECONDS, type SendBatchJobContext } from '../src/modules/campaigns/send-batch-job.js';
import { reconcileCampaigns } from '../src/modules/campaigns/reconcile.js';
import { applyReadyEarlyReports } from '../src/modules/sms-webhooks/early-reports.js';
import { createSmsClient, SmsTransientError } from '../src/providers/sms/client.js';
import { startFakeSmsProvider } from '../src/providers/sms/fake-server.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';

const db = await createTestDatabase(t, { apiPoolSize: 6 });
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET });
const { fake, sms } = await fakeProviderFor(t, { resetTimeoutMs: 200, volumeThreshold: 1000 });
const { shopWithContacts, draft, enqueue, metrics, ledgerMatchesWallet } = campaignFixtures(app, db, { phonePrefix: '+1303555', numberPrefix: '+1720555' });

/** Polls observable state (never a fixed sleep): resolves when `check` holds, fails after `ms`. */
async function until<T>(what: string, check: () => Promise<T | false | null | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const campaignStatus = async (campaignId: string) => (await db.admin.query(`select status from app.campaigns where id = $1`, [campaignId])).rows[0]?.status as string;
const jobsWithKey = async (key: string) =>
  (await db.admin.query(`select j.id, j.locked_by, j.attempts, j.max_attempts, j.run_at, p.payload from graphile_worker.jobs j join graphile_worker._private_jobs p on p.id = j.id where j.key = $1`, [key])).rows;
/** A backend of this test database waiting on a lock, whose query matches. */
const waitingOnLock = (like: string, applicationName?: string) =>
  until(`a backend waiting on a lock (${like})`, async () => {
    const { rows } = await db.admin.query(
      `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like $1 and ($2::text is null or application_name = $2)`,
      [like, applicationName ?? null],
    );
    return rows[0]?.pid as number | undefined;
  });

t.test('the finishing dispatch is not lost when it races the dispatch job being picked up', async (t) => {
  const shop = await shopWithContacts(1, 10);
  const id = await draft(shop);
  t.equal((await enqueue(shop, id)).statusCode, 200);
  const key = `${shop.shopId}:campaign:${id}:dispatch`;
  const [job] = await jobsWithKey(key);
  // A worker picking the job up: its lock is taken but not committed yet.
  const picker = new pg.Client({ connectionString: db.adminUrl });
  await picker.connect();
  t.teardown(() => picker.end());
  await picker.query('begin');
  await picker.query(`update graphile_worker._private_jobs set locked_at = now(), locked_by = 'picking-worker' where id = $1`, [job.id]);
  // Meanwhile the last batch's recording transaction asks for the finishing dispatch.
  const request = withShop(db.workerDb, shop.shopId, (tx) => requestDispatch(tx, shop.shopId, id));
  await waitingOnLock('%add_job%');
  await picker.query('commit'); // the job is now locked by the picker
  await request;
  const jobs = await jobsWithKey(key);
  t.equal(jobs.length, 1, 'one job holds the key');
  t.equal(jobs[0].locked_by, null, 'a successor that is not yet running: the finishing request survived');
  t.not(jobs[0].id, job.id);
  const { rows: picked } = await db.admin.query(`select key, attempts, max_attempts from graphile_worker.jobs where id = $1`, [job.id]);
  t.same(picked, [{ key: null, attempts: picked[0].max_attempts, max_attempts: picked[0].max_attempts }], 'the running job keeps running but will not be retried');
});

t.test('a worker killed with kill -9 while holding a job does not stall the campaign', async (t) => {
  const shop = await shopWithContacts(3, 10);
  const id = await draft(shop);
  // Hold the campaign row: the dispatch job the child picks up blocks on it.
  const holder = new pg.Client({ connectionString: db.adminUrl });
  await holder.connect();
  t.teardown(() => holder.end());
  t.equal((await enqueue(shop, id)).statusCode, 200);
  await holder.query('begin');
  await holder.query(`select 1 from app.campaigns where id = $1 for update`, [id]);
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('src/worker.ts')], {
    env: inheritedEnv({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: db.workerUrl,
      WORKER_CONCURRENCY: '1',
      WORKER_HEARTBEAT_TIMEOUT_SECONDS: '5',
      SMS_PROVIDER_URL: fake.url,
      SMS_PROVIDER_API_KEY: SMS_KEY,
    }),
    stdio: 'ignore',
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  t.teardown(() => void child.kill('SIGKILL'));
  await waitingOnLock('%campaigns%', 'pigeon-worker');
  const [locked] = await jobsWithKey(`${shop.shopId}:campaign:${id}:dispatch`);
  t.ok(locked.locked_by, 'the child worker holds the dispatch job');
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL');
  await holder.query('rollback');
  // Another worker, with a short heartbeat timeout, releases the dead worker's job and runs it.
  const worker = await startWorker({ connectionString: db.workerUrl, concurrency: 2, poolSize: 4, logger: createLogger('silent'), metrics: createMetrics(), crontab: false, sms: { sender: sms, concurrency: 4 }, heartbeatTimeoutSeconds: 5 });
  t.teardown(() => worker.stop());
  await until('the campaign to be sent', async () => (await campaignStatus(id)) === 'sent');
  t.match(await metrics(shop, id), { sent: 3, credits: { reserved: 3, spent: 3 } });
  const refs = [...fake.postsByReference.entries()].filter(([ref]) => ref.startsWith(`${id}:`));
  t.equal(refs.length, 3);
  t.ok(refs.every(([, n]) => n === 1), 'one provider request per recipient');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('only workers whose heartbeat is stale lose their jobs; a live worker with a long job keeps it', async (t) => {
  const shop = await shopWithContacts(0, 0);
  const add = (name: string) => withShop(db.apiDb, shop.shopId, (tx) => sql<{ id: string }>`select app_private.add_job('cut_connections', ${JSON.stringify({ shopId: shop.shopId, name })}::jsonb) as id`.execute(tx));
  const live = (await add('live')).rows[0]!.id;
  const dead = (await add('dead')).rows[0]!.id;
  // Both locked ten minutes ago; one worker still beats, the other stopped five minutes ago.
  await db.admin.query(`update graphile_worker._private_jobs set locked_at = now() - interval '10 minutes', locked_by = case id when $1 then 'live-worker' else 'dead-worker' end where id = any($2::bigint[])`, [live, [live, dead]]);
  await recordHeartbeat(db.workerDb, 'live-worker', 'test');
  await recordHeartbeat(db.workerDb, 'dead-worker', 'test');
  await db.admin.query(`update app_private.worker_heartbeats set seen_at = now() - interval '5 minutes' where worker_id = 'dead-worker'`);
  t.same(await releaseDeadWorkers(db.workerDb, 60), ['dead-worker']);
  const { rows } = await db.admin.query(`select j.id::text as id, j.locked_by from graphile_worker.jobs j where j.id = any($1::bigint[]) order by j.id`, [[live, dead]]);
  t.same(rows, [{ id: live, locked_by: 'live-worker' }, { id: dead, locked_by: null }].sort((a, b) => Number(a.id) - Number(b.id)), 'the live worker keeps its job, the dead one is released');
  await db.admin.query(`delete from graphile_worker._private_jobs where id = any($1::bigint[])`, [[live, dead]]);
});

t.test('the worker survives its database connections being cut and finishes the campaign', async (t) => {
  const shop = await shopWithContacts(4, 10);
  const id = await draft(shop);
  const admin = new pg.Client({ connectionString: db.adminUrl });
  await admin.connect();
  t.teardown(() => admin.end());
  let cut = 0;
  let ran = 0;
  const worker = await startWorker({
    connectionString: db.workerUrl,
    concurrency: 2,
    poolSize: 4,
    logger: createLogger('silent'),
    metrics: createMetrics(),
    crontab: false,
    sms: { sender: sms, concurrency: 4 },
    heartbeatTimeoutSeconds: 5,
    extraTasks: {
      // What a Postgres restart does to a worker: every connection gone, and none to be had
      // while the job it was running tries to record its completion.
      cut_connections: async () => {
        ran++;
        if (cut++ > 0) return;
        await admin.query(`revoke connect on database ${db.name} from public, pigeon_worker`);
        await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'pigeon-worker'`);
      },
    },
  });
  t.teardown(() => worker.stop());
  const firstRunner = worker.runner;
  const firstId = worker.workerId;
  await withShop(db.apiDb, shop.shopId, (tx) => sql`select app_private.add_job('cut_connections', ${JSON.stringify({ shopId: shop.shopId })}::jsonb)`.execute(tx));
  // graphile-worker could not record the completion and stopped its runner: the hook.
  await firstRunner.promise.catch(() => {});
  t.equal(cut, 1);
  t.equal((await enqueue(shop, id)).statusCode, 200, 'the API keeps working meanwhile (the campaign waits for the worker)');
  await admin.query(`grant connect on database ${db.name} to public, pigeon_worker`);
  await until('the campaign to be sent', async () => (await campaignStatus(id)) === 'sent');
  t.not(worker.workerId, firstId, 'the same process runs a new runner');
  t.equal(ran, 2, "the job whose completion was lost ran again (jobs are safe to run twice)");
  t.same((await db.admin.query(`select task_identifier, locked_by from graphile_worker.jobs where locked_at is not null and locked_by <> $1`, [worker.workerId])).rows, [], 'nothing is left locked by a runner that is gone');
  t.match(await metrics(shop, id), { sent: 4 });
  await ledgerMatchesWallet(t, shop.shopId);
});

/** Dispatch once; the batch's job context with a sender under the test's control. */
async function oneBatch(count: number, credits = 10) {
  const shop = await shopWithContacts(count, credits);
  const id = await draft(shop);
  await enqueue(shop, id);
  await dispatchCampaign(db.workerDb, shop.shopId, id);
  const { rows } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1 order by id`, [id]);
  const payload = { shopId: shop.shopId, campaignId: id, batchId: rows[0].id as string };
  return { shop, id, payload, key: `${shop.shopId}:campaign:${id}:batch:${payload.batchId}` };
}
const context = (sender: SmsSender, extra: Partial<SendBatchJobContext> = {}): SendBatchJobContext => ({
  db: db.workerDb,
  sms: () => ({ sender, concurrency: 4 }),
  attempts: 1,
  maxAttempts: 25,
  retryMaxDelaySeconds: 30,
  outageGiveUpHours: 72,
  ...extra,
});
const down: SmsSender = {
  send: async () => {
    throw new SmsTransientError('the SMS provider answered 503', 503);
  },
  lookup: async () => null,
};

t.test('a batch that used its last attempt is resolved: recipients failed, credits back, campaign finished', async (t) => {
  const { shop, id, payload } = await oneBatch(2);
  // An error that is neither a pause nor an outage reaches graphile-worker as a failure (it
  // retries with its backoff). On the last attempt the batch is given up first.
  const bug = () => {
    throw new TypeError('a bug');
  };
  await t.rejects(runSendBatchJob(payload, { ...context(sms), sms: bug, attempts: 24, maxAttempts: 25 }), TypeError);
  t.equal((await metrics(shop, id)).failed, 0, 'not the last attempt: nothing given up');
  await t.rejects(runSendBatchJob(payload, { ...context(sms), sms: bug, attempts: 25, maxAttempts: 25 }), TypeError);
  t.equal(await campaignStatus(id), 'sending');
  const { rows } = await db.admin.query(`select status, error_code from app.campaign_recipients where campaign_id = $1`, [id]);
  t.same(rows.map((r) => [r.status, r.error_code]), [['failed', 'attempts_exhausted'], ['failed', 'attempts_exhausted']]);
  await dispatchCampaign(db.workerDb, shop.shopId, id);
  t.equal(await campaignStatus(id), 'failed', 'every recipient failed: the campaign failed');
  t.match(await metrics(shop, id), { failed: 2, credits: { reserved: 2, spent: 0, released: 2 } });
  const { rows: audit } = await db.admin.query(`select metadata from app.audit_events where shop_id = $1 and action = 'campaign.batch_given_up'`, [shop.shopId]);
  t.match(audit, [{ metadata: { reason: 'attempts_exhausted', recipientsFailed: 2 } }]);
  t.equal(await giveUpBatch(db.workerDb, shop.shopId, id, payload.batchId, 'attempts_exhausted'), 0, 'giving up twice changes nothing');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('the reconciler resolves a batch whose job failed for good', async (t) => {
  const { shop, id, key } = await oneBatch(2);
  const [job] = await jobsWithKey(key);
  await db.admin.query(`select graphile_worker.permanently_fail_jobs(array[$1::bigint], 'gave up')`, [job.id]);
  const report = await reconcileCampaigns(db.workerDb);
  t.equal(report.batchesGivenUp, 1);
  // The dispatch the give-up asked for finishes the campaign.
  await dispatchCampaign(db.workerDb, shop.shopId, id);
  t.equal(await campaignStatus(id), 'failed');
  t.match(await metrics(shop, id), { failed: 2, credits: { reserved: 2, spent: 0, released: 2 } });
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a shop paused longer than any retry budget waits without using attempts, then sends', async (t) => {
  const { shop, id, payload, key } = await oneBatch(2);
  await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { sendingPaused: true } });
  const before = fake.sentCount;
  for (let run = 0; run < 30; run++) {
    const outcome = await runSendBatchJob(payload, context(sms));
    if (outcome.state !== 'paused') t.fail(`run ${run}: ${outcome.state}`);
  }
  const jobs = await jobsWithKey(key);
  t.equal(jobs.length, 1);
  t.equal(jobs[0].attempts, 0, 'no attempt used, however long the pause');
  t.ok(new Date(jobs[0].run_at).getTime() > Date.now() + (PAUSED_RECHECK_SECONDS - 5) * 1000, 'looks again later');
  t.equal(fake.sentCount, before, 'nothing sent while paused');
  t.equal(await campaignStatus(id), 'sending');
  await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { sendingPaused: false } });
  t.match(await runSendBatchJob(payload, context(sms)), { state: 'done', sent: 2 });
  await dispatchCampaign(db.workerDb, shop.shopId, id);
  t.equal(await campaignStatus(id), 'sent');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a provider outage retries within the capped delay and gives up after its budget', async (t) => {
  const { shop, id, payload, key } = await oneBatch(2);
  const start = new Date();
  let outcome = await runSendBatchJob(payload, context(down, { now: () => start }));
  t.match(outcome, { state: 'retrying', outageRetries: 1 });
  let [job] = await jobsWithKey(key);
  t.match(job.payload, { outageSince: start.toISOString(), outageRetries: 1 });
  // Many outages later the delay stops growing at the cap.
  for (let i = 0; i < 8; i++) outcome = await runSendBatchJob((await jobsWithKey(key))[0].payload, context(down, { now: () => start }));
  [job] = await jobsWithKey(key);
  t.equal(job.payload.outageRetries, 9);
  t.ok(new Date(job.run_at).getTime() <= start.getTime() + 30_000, 'never later than SEND_RETRY_MAX_DELAY_SECONDS');
  t.equal(job.attempts, 0, 'an outage uses no attempts');
  // After the outage budget, the batch gives up.
  const later = new Date(start.getTime() + 72 * 3600_000);
  outcome = await runSendBatchJob(job.payload, context(down, { now: () => later }));
  t.match(outcome, { state: 'given_up', reason: 'provider_unavailable', failed: 2 });
  await dispatchCampaign(db.workerDb, shop.shopId, id);
  t.equal(await campaignStatus(id), 'failed');
  t.match(await metrics(shop, id), { credits: { reserved: 2, spent: 0, released: 2 } });
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a delivery report that arrives before its message is recorded is kept and refunds once', async (t) => {
  const { shop, id, payload } = await oneBatch(2);
  const report = async (messageId: string, status: string, eventId = randomUUID()) => {
    const body = JSON.stringify({ eventId, messageId, status, ...(status === 'failed' ? { errorCode: 'unreachable' } : {}) });
    return app.inject({ method: 'POST', url: '/webhooks/sms/status', headers: { 'content-type': 'application/json', ...signSmsWebhook(body, SMS_SECRET) }, payload: body });
  };
  const failedEvent = randomUUID();
  let answers: Array<{ statusCode: number; body: unknown }> = [];
  // The provider reports at once: between its answers and the batch's recording commit.
  await sendBatch(db.workerDb, sms, shop.shopId, id, payload.batchId, {
    concurrency: 4,
    afterProviderCalls: async () => {
      const sent = [...fake.messages.values()].filter((m) => m.clientReference.startsWith(`${id}:`));
      t.equal(sent.length, 2);
      const first = await report(sent[0]!.id, 'failed', failedEvent);
      const second = await report(sent[1]!.id, 'delivered');
      const replay = await report(sent[0]!.id, 'failed', failedEvent);
      answers = [first, second, replay].map((r) => ({ statusCode: r.statusCode, body: r.json() }));
    },
  });
  t.same(answers, [
    { statusCode: 200, body: { received: true, duplicate: false } },
    { statusCode: 200, body: { received: true, duplicate: false } },
    { statusCode: 200, body: { received: true, duplicate: true } },
  ]);
  const m = await metrics(shop, id);
  t.match(m, { sent: 1, delivered: 1, failed: 1, credits: { spent: 2, refunded: 1 } }, 'both reports were applied when the rows were written');
  const { rows: refunds } = await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1 and kind = 'refund'`, [shop.shopId]);
  t.equal(refunds[0].n, 1, 'refunded exactly once');
  const { rows: left } = await db.admin.query(`select count(*)::int as n from app.early_delivery_reports`);
  t.equal(left[0].n, 0, 'nothing is left waiting');
  t.equal((await report([...fake.messages.values()].find((x) => x.clientReference.startsWith(`${id}:`))!.id, 'failed', failedEvent)).json().duplicate, true, 'a later replay is a duplicate');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a report stored before its message is applied by the batch that records it, for that shop only', async (t) => {
  const { shop, id, payload } = await oneBatch(1);
  const body = JSON.stringify({ eventId: randomUUID(), messageId: 'SM-not-yet', status: 'failed' });
  const res = await app.inject({ method: 'POST', url: '/webhooks/sms/status', headers: { 'content-type': 'application/json', ...signSmsWebhook(body, SMS_SECRET) }, payload: body });
  t.same(res.json(), { received: true, duplicate: false }, 'stored, not dropped');
  const other = await shopWithContacts(0, 0);
  const stolen = await withShop(db.workerDb, other.shopId, (tx) => sql`select * from app_private.take_early_delivery_reports(array['SM-not-yet'])`.execute(tx));
  t.same(stolen.rows, [], 'another shop cannot take a report that is not for its messages');
  // The batch records the message (the provider's id) and "crashes" before applying reports.
  const recorder: SmsSender = { send: async () => ({ providerMessageId: 'SM-not-yet', segments: 1 }), lookup: async () => null };
  await sendBatch(db.workerDb, recorder, shop.shopId, id, payload.batchId, { concurrency: 1 });
  const { rows } = await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1 and kind = 'refund'`, [shop.shopId]);
  t.equal(rows[0].n, 1, 'the batch applied the early report right after recording');
});

t.test('a stored report whose message appeared while nobody looked is applied by the reconciler', async (t) => {
  const { shop, id, payload } = await oneBatch(1);
  await sendBatch(db.workerDb, sms, shop.shopId, id, payload.batchId, { concurrency: 1 });
  const { rows } = await db.admin.query(`select provider_message_id from app.messages where campaign_id = $1`, [id]);
  // What a batch that crashed between its recording commit and applying the reports leaves.
  await db.admin.query(`insert into app.early_delivery_reports (event_id, provider_message_id, status, error_code) values ($1, $2, 'undelivered', 'carrier')`, [randomUUID(), rows[0].provider_message_id]);
  const result = await applyReadyEarlyReports(db.workerDb);
  t.equal(result.applied, 1);
  t.match(await metrics(shop, id), { failed: 1, credits: { refunded: 1 } });
  t.equal((await applyReadyEarlyReports(db.workerDb)).applied, 0, 'once');
  await ledgerMatchesWallet(t, shop.shopId);
});
