// The API process. `npm run start:api` runs it against DATABASE_URL (the pigeon_api role).
import { pathToFileURL } from 'node:url';
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';
import { createDb, createPool } from './db/kysely.js';
import { createLogger } from './logger.js';
import type { Metrics } from './metrics.js';

export interface StartedServer {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

export async function startApiServer(config: Config, connectionString: string, logger: Logger, metrics?: Metrics): Promise<StartedServer> {
  const pool = createPool({ connectionString, poolSize: config.databasePoolSize, applicationName: 'pigeon-api', pipeline: true });
  const db = createDb(pool);
  const app = await buildApp({ config, db, logger, ...(metrics ? { metrics } : {}) });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  return {
    app,
    url,
    async stop() {
      await app.close();
      await db.destroy();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to the pigeon_api connection string (or use `npm start`)');
  const server = await startApiServer(config, config.databaseUrl, logger);
  logger.info({ url: server.url }, 'API listening');
  closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'API shutting down after an error');
    else logger.info({ signal }, 'API shutting down');
    await server.stop();
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
