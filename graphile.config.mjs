// Configuration for the graphile-worker CLI (`npx graphile-worker`), which operators use
// for job ops: `--once`, `--cleanup`, `--schema-only`. The long-running worker is
// `npm run start:worker` (src/worker.ts); both read the same tasks/ and crontab.
//
// DATABASE_URL must be the pigeon_worker connection string: the tasks use a pool opened
// from it below, so do not pass `--connection` instead of setting it.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// The tasks and src/ are TypeScript; let import() load them.
register();

// Imported only after register(): static imports would be hoisted above it. The top-level
// await also makes graphile-config fall back from require() to import() for this file.
const { loadConfig } = await import('./src/config.ts');
const { createDb, createPool } = await import('./src/db/kysely.ts');
const { setWorkerDb } = await import('./src/worker-context.ts');

const config = loadConfig();
const root = path.dirname(fileURLToPath(import.meta.url));
const tasks = path.join(root, 'tasks');
const events = new EventEmitter();

if (config.databaseUrl) {
  // The tasks' own pool (src/worker-context.ts would otherwise open one lazily that nothing
  // closes, and the CLI exits 1 after `--once` when idle connections keep node alive).
  // pg connects on first use, so `--help` and `--schema-only` open nothing.
  const db = createDb(
    createPool({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize, applicationName: 'pigeon-worker-cli' }),
  );
  setWorkerDb(db);
  // Emitted once every job of the pool has finished (end of `--once`, or after a graceful shutdown).
  events.once('pool:release', () => {
    setWorkerDb(undefined);
    db.destroy().catch(() => {});
  });
}

/** @type {GraphileConfig.Preset} */
const preset = {
  worker: {
    connectionString: config.databaseUrl,
    taskDirectory: tasks,
    crontabFile: path.join(root, 'crontab'),
    fileExtensions: ['.ts', '.js', '.mjs', '.cjs'],
    concurrentJobs: config.workerConcurrency,
    maxPoolSize: Math.max(10, config.workerConcurrency + 2),
    // As in src/worker.ts: batched completions are flushed on shutdown, unbatched are not awaited.
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
    events,
  },
};

export default preset;
