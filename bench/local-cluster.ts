// A database for benchmarks: DATABASE_URL (a superuser URL) or a throwaway embedded Postgres.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { loadConfig, loadTestSettings, type Config } from '../src/config.js';
import { generateKeySpec } from '../src/lib/key-ring.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { prepareLocalDatabase, type RoleUrls } from '../src/db/local-database.js';
import { freePort } from '../test/helpers/free-port.js';

export interface BenchDatabase extends RoleUrls {
  superuser: string;
  close(): Promise<void>;
}

export async function benchDatabase(name: string): Promise<BenchDatabase> {
  const settings = loadTestSettings();
  let superuserUrl = settings.databaseUrl;
  let stop = async () => {};
  if (!superuserUrl) {
    const dataDir = path.resolve('.data', `bench-postgres-${process.pid}`);
    const embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), superuserPassword: randomBytes(18).toString('base64url') });
    superuserUrl = embedded.superuserUrl;
    stop = async () => {
      await embedded.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  const p = () => randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: superuserUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${admin.escapeIdentifier(name)} with (force)`);
  await admin.end();
  const urls = await prepareLocalDatabase(superuserUrl, name, { owner: p(), api: p(), worker: p() });
  const su = new URL(superuserUrl);
  su.pathname = `/${name}`;
  return {
    ...urls,
    superuser: su.toString(),
    async close() {
      const c = new pg.Client({ connectionString: superuserUrl });
      await c.connect();
      await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
      await c.end();
      await stop();
    },
  };
}

/**
 * The configuration the benchmarks run the API with: production mode (no dev shortcuts),
 * fresh secrets, the API role's connection, and rate limits out of the way.
 */
export function benchConfig(database: BenchDatabase, extra: Record<string, string> = {}): Config {
  return loadConfig(benchEnv(database, extra));
}

/** The same settings as environment variables, for benchmarks that run the real processes. */
export function benchEnv(database: BenchDatabase, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: database.api,
    PUBLIC_BASE_URL: 'http://127.0.0.1',
    LOG_LEVEL: 'warn',
    JWT_SECRET: randomUUID() + randomUUID(),
    IP_HASH_SECRET: randomUUID() + randomUUID(),
    ENCRYPTION_KEYS: generateKeySpec('bench'),
    RATE_LIMIT_MAX: '100000000',
    RATE_LIMIT_PREFILTER_MAX: '100000000',
    // Production refuses to start without Stripe; no bench but bench:billing (which points
    // at the fake) calls it.
    STRIPE_SECRET_KEY: 'sk_test_51PigeonBenchKey0123456789abcdef',
    STRIPE_WEBHOOK_SECRETS: 'whsec_UGlnZW9uQmVuY2hTaWduaW5nU2VjcmV0',
    ...extra,
  };
}
