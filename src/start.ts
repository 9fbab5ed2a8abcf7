// `npm start`: everything in one process for a developer's machine. Without DATABASE_URL
// an embedded Postgres keeps its data under .data/; with it, DATABASE_URL must be a
// superuser of a development server. Roles are created, migrations applied, then the
// worker and the API start, each logged in as its own role.
import path from 'node:path';
import closeWithGrace from 'close-with-grace';
import { loadConfig } from './config.js';
import { loadOrCreateCredentials, startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded.js';
import { prepareLocalDatabase } from './db/local-database.js';
import { createLogger } from './logger.js';
import { createMetrics } from './metrics.js';
import { startApiServer } from './server.js';
import { startWorker } from './worker.js';
import { smsFromConfig } from './worker-context.js';

const LOCAL_DATABASE = 'pigeon';

async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const credentials = await loadOrCreateCredentials(path.resolve(path.dirname(config.embeddedPostgresDir), 'credentials.json'));
  let embedded: EmbeddedPostgres | undefined;
  let superuserUrl = config.databaseUrl;
  if (!superuserUrl) {
    logger.info({ dataDir: config.embeddedPostgresDir, port: config.embeddedPostgresPort }, 'starting embedded Postgres');
    embedded = await startEmbeddedPostgres({
      dataDir: config.embeddedPostgresDir,
      port: config.embeddedPostgresPort,
      superuserPassword: credentials.superuser,
      log: (line) => logger.debug({ postgres: line }),
    });
    superuserUrl = embedded.superuserUrl;
  }
  const urls = await prepareLocalDatabase(superuserUrl, LOCAL_DATABASE, credentials, (msg) => logger.info(msg));
  const metrics = createMetrics();
  const worker = await startWorker({
    connectionString: urls.worker,
    concurrency: config.workerConcurrency,
    poolSize: config.workerConcurrency + 2,
    ...(config.smsProviderUrl ? { sms: smsFromConfig(config) } : {}),
    heartbeatTimeoutSeconds: config.workerHeartbeatTimeoutSeconds,
    logger: logger.child({ component: 'worker' }),
    metrics,
  });
  const server = await startApiServer(config, urls.api, logger.child({ component: 'api' }), metrics);
  const readyMs = Date.now() - startedAt;
  logger.info({ url: server.url, readyMs }, 'Pigeon is ready');
  // Plain line for humans (and scripts) regardless of LOG_LEVEL.
  process.stdout.write(`Pigeon API listening on ${server.url} (docs: ${server.url}/docs), ready in ${readyMs} ms\n`);

  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    await server.stop();
    await worker.stop();
    if (embedded) await embedded.stop();
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
