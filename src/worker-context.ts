// The database handle tasks use. src/worker.ts sets it; under the graphile-worker CLI
// (`npx graphile-worker`) it is created on first use from the same configuration.
import type { Db } from './db/kysely.js';
import { createDb, createPool } from './db/kysely.js';
import { loadConfig } from './config.js';

let current: Db | undefined;

export function setWorkerDb(db: Db | undefined): void {
  current = db;
}

export function workerDb(): Db {
  if (!current) {
    const config = loadConfig();
    if (!config.databaseUrl) throw new Error('DATABASE_URL is not set (the worker role connection string)');
    current = createDb(createPool({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize, applicationName: 'pigeon-worker-cli' }));
  }
  return current;
}
