// The graphile-worker process: tasks from tasks/, the crontab beside them, graceful
// shutdown that lets running jobs finish. `npm run start:worker` runs it on its own.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { Logger as WorkerLogger, run, type Runner, type TaskList, type WorkerEvents } from 'graphile-worker';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { createServer, type Server } from 'node:http';
import { loadConfig, type Config } from './config.js';
import { createDb, createPool } from './db/kysely.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { metricsAccess } from './plugins/metrics.js';
import { CRONTAB_FILE, loadTaskList } from './task-list.js';
import { recordHeartbeat, releaseDeadWorkers, releaseWorkers } from './jobs/worker-heartbeat.js';
import { setWorkerDb, setWorkerMetrics, setWorkerSms, setWorkerStripe, smsFromConfig, type WorkerSms } from './worker-context.js';
import type { StripeClient } from './providers/stripe.js';

export interface StartWorkerOptions {
  connectionString: string;
  concurrency: number;
  poolSize: number;
  logger: Logger;
  metrics: Metrics;
  /** Tests run jobs without the maintenance crontab. */
  crontab?: boolean;
  /** Tests add probe tasks to the project's own. */
  extraTasks?: TaskList;
  /** The SMS provider the send task uses (absent: from the configuration on first use). */
  sms?: WorkerSms;
  /** Stripe for the billing tasks (absent: from the configuration on first use). */
  stripe?: StripeClient | null;
  /** Jobs of a worker whose heartbeat is older than this are released (WORKER_HEARTBEAT_TIMEOUT_SECONDS). */
  heartbeatTimeoutSeconds?: number;
}

function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : level === 'debug' ? 'debug' : 'info';
    logger[method]({ scope: { label: scope.label, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId }, ...meta }, message);
  });
}

export interface StartedWorker {
  /** The runner now (the supervisor replaces it after a database outage). */
  readonly runner: Runner;
  /** The worker pool id of the current runner: what its jobs' locked_by says. */
  readonly workerId: string | undefined;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs graphile-worker under a supervisor. graphile-worker treats a database error while it
 * records job completions or failures as fatal and shuts its worker pool down (after a
 * Postgres restart the worker either exited or sat idle with no pool). Here the process
 * stays up: the stopped runner's jobs are released (none of them is running any more) and
 * a new runner starts once the database answers again. A heartbeat per runner lets every
 * other worker release this one's jobs if the whole process dies.
 */
export async function startWorker(options: StartWorkerOptions): Promise<StartedWorker> {
  const pool = createPool({ connectionString: options.connectionString, poolSize: options.poolSize, applicationName: 'pigeon-worker' });
  // A connection cut by a Postgres restart errors while idle: without a listener that is
  // an uncaught 'error' event, which ends the process.
  pool.on('error', (error) => options.logger.warn({ err: error }, 'database connection lost; it will be replaced'));
  const db = createDb(pool);
  setWorkerDb(db);
  setWorkerMetrics(options.metrics);
  if (options.sms) setWorkerSms(options.sms);
  if (options.stripe !== undefined) setWorkerStripe(options.stripe);
  const heartbeatTimeoutSeconds = options.heartbeatTimeoutSeconds ?? 60;
  const taskList = { ...(await loadTaskList()), ...options.extraTasks };
  const crontab = options.crontab === false ? '' : await readFile(CRONTAB_FILE, 'utf8');
  const processName = `${hostname()}:${process.pid}`;
  const outcome = (task: string, result: string) => options.metrics.jobOutcomes.inc({ task, outcome: result });

  let stopping = false;
  let workerId: string | undefined;

  async function beat(): Promise<void> {
    try {
      if (workerId) await recordHeartbeat(db, workerId, processName);
      const released = await releaseDeadWorkers(db, heartbeatTimeoutSeconds);
      if (released.length > 0) {
        options.metrics.workersReleased.inc(released.length);
        options.logger.warn({ workerIds: released }, 'released the jobs of dead workers');
      }
    } catch (error) {
      // The database is away; the next beat tries again.
      options.logger.debug({ err: error }, 'heartbeat failed');
    }
  }

  async function launch(): Promise<Runner> {
    const events = new EventEmitter() as WorkerEvents;
    events.on('pool:create', ({ workerPool }) => {
      workerId = workerPool.id;
      void beat();
    });
    events.on('job:success', ({ job }) => outcome(job.task_identifier, 'success'));
    events.on('job:error', ({ job }) => outcome(job.task_identifier, 'error'));
    events.on('job:failed', ({ job }) => outcome(job.task_identifier, 'failed'));
    return run({
      pgPool: pool,
      concurrency: options.concurrency,
      taskList,
      crontab,
      noHandleSignals: true,
      logger: workerLogger(options.logger),
      events,
      // Unbatched, graphile-worker records a job's completion without awaiting it, so a
      // shutdown could close the pool first and leave a finished job locked (to run again
      // when the lock expires). Batched, even with no delay, the shutdown flushes them.
      preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    });
  }

  let runner = await launch();
  const heartbeat = setInterval(() => void beat(), Math.max(1000, (heartbeatTimeoutSeconds * 1000) / 4));
  heartbeat.unref();

  const supervised = (async () => {
    while (!stopping) {
      const stoppedId = workerId;
      try {
        await runner.promise;
      } catch (error) {
        options.logger.error({ err: error }, 'the job runner stopped on an error');
      }
      if (stopping) return;
      options.logger.warn({ workerId: stoppedId }, 'the job runner stopped by itself; restarting it');
      for (let delay = 500; !stopping; delay = Math.min(delay * 2, 10_000)) {
        try {
          // Its jobs are not running any more: free them now rather than after the timeout.
          if (stoppedId) await releaseWorkers(db, [stoppedId]);
          runner = await launch();
          options.logger.info({ workerId }, 'job runner restarted');
          break;
        } catch (error) {
          options.logger.warn({ err: error, retryInMs: delay }, 'the database is not back yet');
          await sleep(delay);
        }
      }
    }
  })();

  return {
    get runner() {
      return runner;
    },
    get workerId() {
      return workerId;
    },
    async stop() {
      stopping = true;
      clearInterval(heartbeat);
      // Waits for running jobs to finish; new jobs are not picked up meanwhile.
      await runner.stop().catch(() => {});
      await supervised;
      if (workerId) await releaseWorkers(db, [workerId]).catch(() => {});
      setWorkerDb(undefined);
      setWorkerMetrics(undefined);
      if (options.sms) setWorkerSms(undefined);
      if (options.stripe !== undefined) setWorkerStripe(undefined);
      await db.destroy();
    },
  };
}

/**
 * A worker running on its own serves GET /metrics (job outcomes by task and process
 * metrics) on WORKER_METRICS_PORT, with the API's access rule. Not behind any proxy, so the
 * socket address is the client.
 */
async function serveWorkerMetrics(config: Config, metrics: Metrics, logger: Logger): Promise<Server | undefined> {
  if (config.workerMetricsPort === 0) return undefined;
  const mayRead = metricsAccess(config.metricsAllowedIps, config.metricsToken);
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"NOT_FOUND","message":"Route not found"}}');
      return;
    }
    if (!mayRead(request.socket.remoteAddress ?? '', request.headers.authorization)) {
      response.writeHead(403, { 'content-type': 'application/json' }).end('{"error":{"code":"FORBIDDEN","message":"Metrics are not available to this client"}}');
      return;
    }
    metrics.registry.metrics().then(
      (body) => response.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' }).end(body),
      () => response.writeHead(500).end(),
    );
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(config.workerMetricsPort, config.host, resolve));
  logger.info({ port: config.workerMetricsPort }, 'worker metrics listening');
  return server;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to the pigeon_worker connection string (or use `npm start`)');
  const metrics = createMetrics();
  const worker = await startWorker({
    connectionString: config.databaseUrl,
    concurrency: config.workerConcurrency,
    poolSize: config.workerConcurrency + 2,
    ...(config.smsProviderUrl ? { sms: smsFromConfig(config) } : {}),
    heartbeatTimeoutSeconds: config.workerHeartbeatTimeoutSeconds,
    logger,
    metrics,
  });
  const metricsServer = await serveWorkerMetrics(config, metrics, logger);
  logger.info({ concurrency: config.workerConcurrency }, 'worker started');
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'worker shutting down after an error');
    else logger.info({ signal }, 'worker shutting down, letting running jobs finish');
    metricsServer?.close();
    await worker.stop();
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
