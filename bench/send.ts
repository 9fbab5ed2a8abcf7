// End-to-end send throughput: a campaign to N recipients (default 100,000) enqueued through
// the API and sent by the real worker (dispatch, send batches, debit per batch) to the fake
// provider, with 0 ms and then 50 ms provider latency; and graphile-worker running N no-op
// jobs in the same run, for the ratio. Messages per second include the debit.
// Quiet hours are off (the run must not depend on the clock); the frequency cap is the
// default (3 a day), so every recipient is checked against its recent messages.
// Usage: npm run bench:send -- [recipients=100000] [workerConcurrency=4] [smsConcurrency=64]
import pg from 'pg';
import { Logger, run } from 'graphile-worker';
import { buildApp } from '../src/app.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { withShop } from '../src/db/with-shop.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { applyCreditEntry } from '../src/modules/wallet/service.js';
import { createSmsClient } from '../src/providers/sms/client.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { inheritedEnv } from '../src/config.js';
import { freePort } from '../test/helpers/free-port.js';
import { startWorker } from '../src/worker.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const N = Number(process.argv[2] ?? 100_000);
const WORKER_CONCURRENCY = Number(process.argv[3] ?? 4);
const SMS_CONCURRENCY = Number(process.argv[4] ?? 64);
const database = await benchDatabase('pigeon_bench_send');
const config = benchConfig(database, { REQUEST_TIMEOUT_MS: '600000' });
const db = createDb(createPool({ connectionString: database.api, poolSize: 4, applicationName: 'bench-api', pipeline: true }));
const app = await buildApp({ config, db, logger: createLogger('warn') });
await app.ready();
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: 'bench@example.test', password: 'correct horse battery staple', shopName: 'Bench' } });
const shopId = signup.json().shop.id as string;
const headers = { authorization: `Bearer ${signup.json().accessToken}` };
await app.inject({ method: 'PUT', url: '/api/v1/settings', headers, payload: { quietHoursStart: '00:00', quietHoursEnd: '00:00' } });
const admin = new pg.Client({ connectionString: database.superuser });
await admin.connect();
await admin.query(
  `insert into app.contacts (shop_id, phone_e164, first_name, consent_state, time_zone)
   select $1, '+1' || (2000000000 + g)::text, 'First' || (g % 5000), 'subscribed', 'UTC' from generate_series(1, $2) g`,
  [shopId, N],
);
await admin.query('analyze');
await withShop(db, shopId, (tx) => applyCreditEntry(tx, { shopId, kind: 'purchase', credits: N * 10, idempotencyKey: 'bench' }));
// The operator's numbers:assign, as a fixture.
await admin.query(`insert into app.sender_numbers (shop_id, phone_e164) values ($1, '+15550100001')`, [shopId]);

// The fake provider runs in its own process, as a real provider would: sharing this event
// loop it would bill its own CPU to the send path.
async function startFake(latencyMs: number): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import=tsx', 'src/providers/sms/fake-server-cli.ts', '--port', String(port), '--latency', String(latencyMs)], {
    env: inheritedEnv({ SMS_PROVIDER_API_KEY: 'bench-key', NODE_ENV: 'development', DATABASE_URL: '' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
  return { url: `http://127.0.0.1:${port}`, child };
}

async function campaignRun(latencyMs: number) {
  const fake = await startFake(latencyMs);
  const sms = createSmsClient({ baseUrl: fake.url, apiKey: 'bench-key', timeoutMs: 10_000, connections: SMS_CONCURRENCY * WORKER_CONCURRENCY, breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 30_000, volumeThreshold: 1000 } });
  const created = await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers, payload: { name: `latency ${latencyMs}`, body: 'Hi {{first_name}}, sale today!' } });
  const id = created.json().id as string;
  const worker = await startWorker({ connectionString: database.worker, concurrency: WORKER_CONCURRENCY, poolSize: WORKER_CONCURRENCY + 4, logger: createLogger('warn'), metrics: createMetrics(), crontab: false, sms: { sender: sms, concurrency: SMS_CONCURRENCY } });
  const started = Date.now();
  const enqueued = await app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/enqueue`, headers });
  if (enqueued.statusCode !== 200) throw new Error(enqueued.body);
  for (;;) {
    const { rows } = await admin.query(`select status from app.campaigns where id = $1`, [id]);
    if (rows[0].status === 'sent' || rows[0].status === 'failed') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const ms = Date.now() - started;
  await worker.stop();
  sms.shutdown();
  fake.child.kill();
  const { rows } = await admin.query(`select count(*)::int as messages, (select count(*)::int from app.credit_ledger where kind = 'debit' and reference_id like $2) as debits from app.messages where campaign_id = $1`, [id, `${id}:%`]);
  return { latencyMs, ms, messages: rows[0].messages, debits: rows[0].debits, messagesPerSecond: Math.round(rows[0].messages / (ms / 1000)) };
}

// Two no-op runs: with the worker settings the send run uses, and with graphile-worker's
// own performance preset (24 concurrent jobs, a local queue of 500, batched completion),
// which is what its published jobs-per-second figures use.
async function noopJobs(concurrency: number, localQueueSize: number | null) {
  await admin.query(`vacuum analyze graphile_worker._private_jobs`);
  await admin.query(`select graphile_worker.add_jobs(array(select ('noop', '{}'::json, null, null, null, null, null, null)::graphile_worker.job_spec from generate_series(1, $1)))`, [N]);
  const pool = new pg.Pool({ connectionString: database.worker, max: concurrency + 4 });
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  let done = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const started = Date.now();
  // Counted in process, not by polling the jobs table: a count over it every few
  // milliseconds would be most of what the database does.
  const runner = await run({
    pgPool: pool,
    concurrency,
    taskList: { noop: async () => void (++done === N && allDone()) },
    noHandleSignals: true,
    logger: new Logger(() => () => {}),
    preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0, ...(localQueueSize ? { localQueue: { size: localQueueSize } } : {}) } },
  });
  await finished;
  const ms = Date.now() - started;
  await runner.stop();
  await pool.end();
  return { jobs: N, concurrency, localQueueSize, ms, jobsPerSecond: Math.round(N / (ms / 1000)) };
}

const zero = await campaignRun(0);
const slow = await campaignRun(50);
// BENCH_SKIP_NOOP=1 leaves out the no-op runs (while tuning the send path).
const skipNoop = Boolean(process.env.BENCH_SKIP_NOOP);
const noop = skipNoop ? { jobsPerSecond: NaN } : await noopJobs(WORKER_CONCURRENCY, null);
const noopTuned = skipNoop ? { jobsPerSecond: NaN } : await noopJobs(24, 500);
await app.close();
await db.destroy();
await admin.end();
await database.close();
console.log(
  JSON.stringify(
    {
      benchmark: 'send-throughput',
      recipients: N,
      workerConcurrency: WORKER_CONCURRENCY,
      smsConcurrencyPerBatch: SMS_CONCURRENCY,
      zeroLatency: zero,
      fiftyMsLatency: slow,
      noopJobs: noop,
      noopJobsGraphilePerfPreset: noopTuned,
      ratioToNoopJobs: { zeroLatency: Number((zero.messagesPerSecond / noop.jobsPerSecond).toFixed(3)), fiftyMsLatency: Number((slow.messagesPerSecond / noop.jobsPerSecond).toFixed(3)) },
      ratioToNoopJobsGraphilePerfPreset: {
        zeroLatency: Number((zero.messagesPerSecond / noopTuned.jobsPerSecond).toFixed(3)),
        fiftyMsLatency: Number((slow.messagesPerSecond / noopTuned.jobsPerSecond).toFixed(3)),
      },
    },
    null,
    2,
  ),
);
