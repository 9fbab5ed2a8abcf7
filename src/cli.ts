// One-shot operator commands: `npm run migrate`, and (later) seed, key rotation, wallet adjustment.
import path from 'node:path';
import { loadConfig } from './config.js';
import { loadOrCreateCredentials, startEmbeddedPostgres } from './db/embedded.js';
import { prepareLocalDatabase } from './db/local-database.js';
import { migrate } from './db/migrate.js';

async function migrateCommand(): Promise<void> {
  const config = loadConfig();
  const log = (msg: string) => console.log(msg);
  if (config.databaseUrl) {
    // Production: DATABASE_URL is the pigeon_owner connection (or a DBA who may become it).
    const result = await migrate(config.databaseUrl, { log });
    console.log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already current`);
    return;
  }
  const credentials = await loadOrCreateCredentials(path.resolve(path.dirname(config.embeddedPostgresDir), 'credentials.json'));
  const embedded = await startEmbeddedPostgres({
    dataDir: config.embeddedPostgresDir,
    port: config.embeddedPostgresPort,
    superuserPassword: credentials.superuser,
  });
  try {
    await prepareLocalDatabase(embedded.superuserUrl, 'pigeon', credentials, log);
  } finally {
    await embedded.stop();
  }
}

const commands: Record<string, () => Promise<void>> = {
  migrate: migrateCommand,
};

const name = process.argv[2] ?? '';
const command = commands[name];
if (!command) {
  console.error(`usage: tsx src/cli.ts <${Object.keys(commands).join('|')}>`);
  process.exit(2);
}
command().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
