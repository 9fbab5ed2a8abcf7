// One-shot operator commands: `npm run migrate`, and (later) seed, key rotation, wallet adjustment.
import path from 'node:path';
import { loadConfig } from './config.js';
import { loadOrCreateCredentials, startEmbeddedPostgres } from './db/embedded.js';
import { prepareLocalDatabase } from './db/local-database.js';
import { migrate } from './db/migrate.js';
import { createDb, createPool } from './db/kysely.js';
import { parseKeyRing } from './lib/key-ring.js';
import { rotateShopTokens } from './modules/shopify/access-token.js';
import { adjustWallet, parseAdjustArgs } from './modules/wallet/adjust.js';
import { verifyShopChains } from './modules/contacts/consent-chain.js';
import { readInShop } from './db/with-shop.js';
import { sql } from 'kysely';
import { assignNumberCommand, parseNumberArgs, releaseNumberCommand } from './modules/sender-numbers/operator.js';
import type { SmsClient } from './providers/sms/client.js';
import { parsePackageArgs, runPackageCommand } from './modules/billing/packages-operator.js';
import { parseHoldArgs, sendingHoldsCommand } from './modules/settings/holds-operator.js';
import { smsFromConfig } from './worker-context.js';

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

/** The worker-role pool an operator command runs with. */
function operatorDb(name: string) {
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set to the pigeon_worker connection string');
  return { config, db: createDb(createPool({ connectionString: config.databaseUrl, poolSize: 1, applicationName: `pigeon-${name}` })) };
}

/** `numbers:assign` / `numbers:release`: an operator gives a shop a sending number or takes it back (audited). Prints JSON. */
function numbersCommand(action: 'assign' | 'release') {
  return async () => {
    const args = parseNumberArgs(process.argv.slice(3));
    const { config, db } = operatorDb(`numbers-${action}`);
    let client: SmsClient | undefined;
    const sms = () => (client ??= smsFromConfig(config).sender);
    try {
      const run = action === 'assign' ? assignNumberCommand : releaseNumberCommand;
      console.log(JSON.stringify(await run(db, sms, args, config.senderNumberQuarantineDays)));
    } finally {
      client?.shutdown();
      await db.destroy();
    }
  };
}

/** `inbound:unrouted [--limit N]`: inbound texts to numbers no shop ever held, newest first. Prints JSON lines. */
async function inboundUnroutedCommand(): Promise<void> {
  const argv = process.argv.slice(3);
  const limit = argv.includes('--limit') ? Number(argv[argv.indexOf('--limit') + 1]) : 100;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new Error('--limit must be a positive integer');
  const { db } = operatorDb('inbound-unrouted');
  try {
    const { rows } = await sql<{ event_id: string; from_phone: string; to_number: string; keyword: string; received_at: Date }>`
      select event_id, from_phone, to_number, keyword, received_at from app_private.unrouted_inbound(${limit})`.execute(db);
    for (const r of rows) console.log(JSON.stringify({ eventId: r.event_id, from: r.from_phone, to: r.to_number, keyword: r.keyword, receivedAt: new Date(r.received_at).toISOString() }));
    if (rows.length === 0) console.error('no unrouted inbound messages');
  } finally {
    await db.destroy();
  }
}

/** `billing:packages`: list or change the credit package catalogue. DATABASE_URL: the pigeon_owner connection. */
async function billingPackagesCommand(): Promise<void> {
  const command = parsePackageArgs(process.argv.slice(3));
  const { db } = operatorDb('billing-packages');
  try {
    for (const p of await runPackageCommand(db, command)) console.log(JSON.stringify(p));
  } finally {
    await db.destroy();
  }
}

/** `sending:holds`: list a shop's sending holds, or lift one (audited). DATABASE_URL: the pigeon_worker connection. */
async function sendingHoldsCli(): Promise<void> {
  const args = parseHoldArgs(process.argv.slice(3));
  const { db } = operatorDb('sending-holds');
  try {
    console.log(JSON.stringify(await sendingHoldsCommand(db, args)));
  } finally {
    await db.destroy();
  }
}

const commands: Record<string, () => Promise<void>> = {
  'billing:packages': billingPackagesCommand,
  'sending:holds': sendingHoldsCli,
  'numbers:assign': numbersCommand('assign'),
  'numbers:release': numbersCommand('release'),
  'inbound:unrouted': inboundUnroutedCommand,
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
