// The Shopify customer backfill of N customers (default 100,000) through the real job: the
// fake Shopify Admin API (test/helpers/fake-shopify-admin.ts, generating the customers with
// their SMS consent and streaming the bulk result as JSONL) runs in this process with the
// API (in-process, for the sign-up and POST /api/v1/shopify/sync); the worker is its own
// process, started as `npm run start:worker` starts it (its heap budget included), so its
// peak RSS is the job's own. Wall time from the POST to the sync's `done`, and the part of
// it spent applying the result (from the moment the bulk operation is seen COMPLETED).
// Usage: npm run bench:shopify-sync -- [customers=100000]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { inheritedEnv } from '../src/config.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { withShop } from '../src/db/with-shop.js';
import { parseKeyRing } from '../src/lib/key-ring.js';
import { createLogger } from '../src/logger.js';
import { storeShopifyAccessToken } from '../src/modules/shopify/access-token.js';
import { startFakeShopifyAdmin } from '../test/helpers/fake-shopify-admin.js';
import { benchConfig, benchDatabase, benchEnv } from './local-cluster.js';

const CUSTOMERS = Number(process.argv[2] ?? 100_000);
const SHOP = 'bench-sync.myshopify.com';

const fake = await startFakeShopifyAdmin();
fake.generateCustomers(SHOP, CUSTOMERS);
const database = await benchDatabase('pigeon_bench_shopify_sync');
const admin = new pg.Client({ connectionString: database.superuser });
await admin.connect();

// Development mode: production refuses a plain-http SHOPIFY_ADMIN_URL (the fake's).
const extra = { NODE_ENV: 'development', SHOPIFY_API_KEY: 'pigeon-bench', SHOPIFY_API_SECRET: 'shpss_bench0123456789abcdef0123456789', SHOPIFY_ADMIN_URL: fake.adminUrlTemplate };
const env = benchEnv(database, extra);
const config = benchConfig(database, { ...extra, JWT_SECRET: env.JWT_SECRET!, IP_HASH_SECRET: env.IP_HASH_SECRET!, ENCRYPTION_KEYS: env.ENCRYPTION_KEYS! });
const apiDb = createDb(createPool({ connectionString: database.api, poolSize: 4, applicationName: 'pigeon-bench-api' }));
const app = await buildApp({ config, db: apiDb, logger: createLogger('warn') });
await app.ready();

// A shop as the install leaves it: its domain and its offline token, encrypted.
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: 'bench@example.test', password: 'correct horse battery staple', shopName: 'Bench' } });
const { accessToken, shop } = signup.json() as { accessToken: string; shop: { id: string } };
await admin.query('update app.shops set shopify_domain = $2 where id = $1', [shop.id, SHOP]);
const token = fake.grant(SHOP);
await withShop(apiDb, shop.id, (tx) => storeShopifyAccessToken(tx, parseKeyRing(env.ENCRYPTION_KEYS!), shop.id, token));

// The worker as `npm run start:worker` runs it, without npm's and tsx's wrapper processes.
const scripts = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
const [tsx, ...args] = scripts['start:worker']!.split(/\s+/);
if (tsx !== 'tsx') throw new Error('start:worker no longer starts with tsx: update this benchmark');
const worker = spawn(process.execPath, ['--import=tsx', ...args], { env: inheritedEnv({ ...env, DATABASE_URL: database.worker }), stdio: ['ignore', 'inherit', 'inherit'] });
const rssMb = async (pid: number | undefined, field: 'VmRSS' | 'VmHWM') => {
  const status = await readFile(`/proc/${pid ?? 'self'}/status`, 'utf8');
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024);
};
// Ready once graphile-worker has registered itself (its heartbeat).
for (let tries = 0; ; tries++) {
  const { rows } = await admin.query(`select count(*)::int as n from app_private.worker_heartbeats`).catch(() => ({ rows: [{ n: 0 }] }));
  if (rows[0].n > 0) break;
  if (tries > 600) throw new Error('the worker did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const workerRssBeforeMb = await rssMb(worker.pid, 'VmRSS');

const started = Date.now();
const res = await app.inject({ method: 'POST', url: '/api/v1/shopify/sync', headers: { authorization: `Bearer ${accessToken}` } });
if (res.statusCode !== 202) throw new Error(`POST /api/v1/shopify/sync: ${res.statusCode} ${res.body}`);
const { id } = res.json() as { id: string };
let completedSeenAt = 0;
let result: { status: string; object_count: string | null; lines_read: number; inserted: number; updated: number; skipped: number; restarts: number; error: string | null };
for (;;) {
  const { rows } = await admin.query(`select status, object_count, lines_read, inserted, updated, skipped, restarts, error from app.shopify_syncs where id = $1`, [id]);
  result = rows[0];
  if (!completedSeenAt && result.object_count !== null) completedSeenAt = Date.now();
  if (result.status === 'done' || result.status === 'failed') break;
  await new Promise((r) => setTimeout(r, 50));
}
const finishedAt = Date.now();
const totalMs = finishedAt - started;
const workerPeakRssMb = await rssMb(worker.pid, 'VmHWM');
const { rows: counted } = await admin.query(
  `select count(*)::int as contacts, count(distinct shopify_customer_id)::int as customers, (select count(*)::int from app.consent_events where shop_id = $1) as links from app.contacts where shop_id = $1`,
  [shop.id],
);
worker.kill('SIGTERM');
await once(worker, 'exit');
await app.close();
await apiDb.destroy();
await admin.end();
await database.close();
await fake.close();

console.log(
  JSON.stringify(
    {
      benchmark: 'shopify-customer-sync',
      customers: CUSTOMERS,
      totalSeconds: Number((totalMs / 1000).toFixed(1)),
      applySeconds: completedSeenAt ? Number(((finishedAt - completedSeenAt) / 1000).toFixed(1)) : null,
      customersPerSecond: Math.round(CUSTOMERS / (totalMs / 1000)),
      workerRssBeforeMb,
      workerPeakRssMb,
      benchProcessPeakRssMb: await rssMb(undefined, 'VmHWM'),
      bulkResultDownloads: fake.downloads,
      result,
      database: counted[0],
    },
    null,
    2,
  ),
);
