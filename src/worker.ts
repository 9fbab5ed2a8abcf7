// The graphile-worker process: tasks from tasks/, the crontab beside them, graceful
// shutdown that lets running jobs finish. `npm run start:worker` runs it on its own.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { Logger as WorkerLogger, run, type Runner, type TaskList } from 'graphile-worker';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import { createServer, type Server } from 'node:http';
import { loadConfig, type Config } from './config.js';
import { createDb, createPool } from './db/kysely.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { metricsAccess } from './plugins/metrics.js';
import { CRONTAB_FILE, loadTaskList } from './task-list.js';
import { setWorkerDb, setWorkerSms, smsFromConfig, type WorkerSms } from './worker-context.js';

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
}

function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger((scope) => (level, message, meta) => {
    const method = level === 'error' ? 'error' : level === 'warning' ? 'warn' : level === 'debug' ? 'debug' : 'info';
    logger[method]({ scope: { label: scope.label, taskIdentifier: scope.taskIdentifier, jobId: scope.jobId }, ...meta }, message);
  });
}

export interface StartedWorker {
  runner: Runner;
  stop(): Promise<void>;
}

export async function startWorker(options: StartWorkerOptions): Promise<StartedWorker> {
  const pool = createPool({ connectionString: options.connectionString, poolSize: options.poolSize, applicationName: 'pigeon-worker' });
  const db = createDb(pool);
  setWorkerDb(db);
  if (options.sms) setWorkerSms(options.sms);
  const taskList = { ...(await loadTaskList()), ...options.extraTasks };
  const runner = await run({
    pgPool: pool,
    concurrency: options.concurrency,
    taskList,
    crontab: options.crontab === false ? '' : await readFile(CRONTAB_FILE, 'utf8'),
    noHandleSignals: true,
    logger: workerLogger(options.logger),
    // Unbatched, graphile-worker records a job's completion without awaiting it, so a
    // shutdown could close the pool first and leave a finished job locked (to run again
    // when the lock expires). Batched, even with no delay, the shutdown flushes them.
    preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
  const outcome = (task: string, result: string) => options.metrics.jobOutcomes.inc({ task, outcome: result });
  runner.events.on('job:success', ({ job }) => outcome(job.task_identifier, 'success'));
  runner.events.on('job:error', ({ job }) => outcome(job.task_identifier, 'error'));
  runner.events.on('job:failed', ({ job }) => outcome(job.task_identifier, 'failed'));
  return {
    runner,
    async stop() {
      // Waits for running jobs to finish; new jobs are not picked up meanwhile.
      await runner.stop();
      setWorkerDb(undefined);
      if (options.sms) setWorkerSms(undefined);
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
