// One-shot operator commands: `npm run migrate`, and (later) seed, key rotation, wallet adjustment.
import path from 'node:path';
import { loadConfig } from './config.js';
import { loadOrCreateCredentials, startEmbeddedPostgres } from './db/embedded.js';
import { prepareLocalDatabase } from './db/local-database.js';
import { migrate } from './db/migrate.js';
import { createDb, createPool } from './db/kysely.js';
import { parseKeyRing } from './lib/key-ring.js';
import { rotateShopTokens } from './modules/shops/service.js';
import { adjustWallet, parseAdjustArgs } from './modules/wallet/adjust.js';
import { verifyShopChains } from './modules/contacts/consent-chain.js';
import { readInShop } from './db/with-shop.js';

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

/** Re-encrypt secrets at rest under the newest ENCRYPTION_KEYS entry. DATABASE_URL: the worker role. */
async function rotateKeysCommand(): Promise<void> {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to the pigeon_worker connection string');
  const db = createDb(createPool({ connectionString: config.databaseUrl, poolSize: 2, applicationName: 'pigeon-keys-rotate' }));
  try {
    const ring = parseKeyRing(config.encryptionKeys);
    const result = await rotateShopTokens(db, ring);
    console.log(`keys:rotate: ${result.rotated} of ${result.shops} shops re-encrypted under key "${ring.currentKid}"`);
  } finally {
    await db.destroy();
  }
}

/** A manual credit adjustment, audited. DATABASE_URL: the worker role. Prints JSON. */
async function walletAdjustCommand(): Promise<void> {
  const args = parseAdjustArgs(process.argv.slice(3));
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to the pigeon_worker connection string');
  const db = createDb(createPool({ connectionString: config.databaseUrl, poolSize: 1, applicationName: 'pigeon-wallet-adjust' }));
  try {
    console.log(JSON.stringify(await adjustWallet(db, args)));
  } finally {
    await db.destroy();
  }
}

/** Verifies one shop's consent hash chains. DATABASE_URL: the worker or API role. Exit 1 when broken. */
async function consentVerifyCommand(): Promise<void> {
  const argv = process.argv.slice(3);
  const shopId = argv[argv.indexOf('--shop') + 1];
  if (!argv.includes('--shop') || !shopId) throw new Error('usage: npm run consent:verify -- --shop <shop uuid>');
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to the pigeon_worker connection string');
  const db = createDb(createPool({ connectionString: config.databaseUrl, poolSize: 1, applicationName: 'pigeon-consent-verify' }));
  try {
    const report = await readInShop(db, shopId, (tx) => verifyShopChains(tx, shopId));
    console.log(JSON.stringify(report));
    if (!report.ok) process.exitCode = 1;
  } finally {
    await db.destroy();
  }
}

const commands: Record<string, () => Promise<void>> = {
  migrate: migrateCommand,
  'keys:rotate': rotateKeysCommand,
  'wallet:adjust': walletAdjustCommand,
  'consent:verify': consentVerifyCommand,
};

const name = process.argv[2] ?? '';
const command = commands[name];
if (!command) {
  console.error(`usage: tsx src/cli.ts <${Object.keys(commands).join('|')}>`);
  process.exit(2);
}
command().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
