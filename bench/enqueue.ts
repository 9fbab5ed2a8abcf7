// Enqueue of a campaign to N recipients (default 1,000,000) through POST …/enqueue (one
// transaction: recipients INSERT … SELECT, cost by distinct names, reservation, state, job),
// against a raw INSERT … SELECT of the same rows into a copy of the recipients table,
// in the same run. Peak RSS is sampled during the request (no per-recipient objects).
// Usage: npm run bench:enqueue -- [recipients=1000000]
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { withShop } from '../src/db/with-shop.js';
import { createLogger } from '../src/logger.js';
import { applyCreditEntry } from '../src/modules/wallet/service.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const N = Number(process.argv[2] ?? 1_000_000);
const database = await benchDatabase('pigeon_bench_enqueue');
const config = benchConfig(database, { REQUEST_TIMEOUT_MS: '600000' });
const db = createDb(createPool({ connectionString: database.api, poolSize: 4, applicationName: 'bench-api', pipeline: true }));
const app = await buildApp({ config, db, logger: createLogger('warn') });
await app.ready();
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: 'bench@example.test', password: 'correct horse battery staple', shopName: 'Bench' } });
const shopId = signup.json().shop.id as string;
const headers = { authorization: `Bearer ${signup.json().accessToken}` };
const admin = new pg.Client({ connectionString: database.superuser });
await admin.connect();
await admin.query(
  `insert into app.contacts (shop_id, phone_e164, first_name, last_name, consent_state)
   select $1, '+1' || (2000000000 + g)::text, 'First' || (g % 5000), 'Last' || (g % 7000), 'subscribed' from generate_series(1, $2) g`,
  [shopId, N],
);
await admin.query('analyze app.contacts');
await withShop(db, shopId, (tx) => applyCreditEntry(tx, { shopId, kind: 'purchase', credits: N * 3, idempotencyKey: 'bench' }));
// The operator's numbers:assign, as a fixture.
await admin.query(`insert into app.sender_numbers (shop_id, phone_e164) values ($1, '+15550100001')`, [shopId]);

// Raw: the same rows into a table shaped and indexed like app.campaign_recipients.
await admin.query(`create table public.bench_recipients (like app.campaign_recipients including defaults including identity including indexes)`);
const rawCampaign = randomUUID();
let started = Date.now();
await admin.query(`insert into public.bench_recipients (shop_id, campaign_id, contact_id) select c.shop_id, $2, c.id from app.contacts c where c.shop_id = $1 and c.deleted_at is null and c.consent_state = 'subscribed'`, [shopId, rawCampaign]);
const rawMs = Date.now() - started;

const created = await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers, payload: { name: 'Everyone', body: 'Hi {{first_name}}, 20% off today at {{shop_name}}!' } });
const campaignId = created.json().id as string;
if (global.gc) global.gc();
const baseRss = process.memoryUsage().rss;
let peakRss = baseRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
started = Date.now();
const enqueued = await app.inject({ method: 'POST', url: `/api/v1/campaigns/${campaignId}/enqueue`, headers });
const enqueueMs = Date.now() - started;
clearInterval(sampler);
if (enqueued.statusCode !== 200) throw new Error(`enqueue failed: ${enqueued.statusCode} ${enqueued.body}`);

await app.close();
await db.destroy();
await admin.end();
await database.close();
console.log(
  JSON.stringify(
    {
      benchmark: 'campaign-enqueue',
      recipients: enqueued.json().estimate.recipients,
      credits: enqueued.json().estimate.credits,
      rawInsertSelectMs: rawMs,
      enqueueMs,
      ratio: Number((enqueueMs / rawMs).toFixed(2)),
      rssBeforeMb: Math.round(baseRss / 1024 / 1024),
      rssPeakMb: Math.round(peakRss / 1024 / 1024),
      rssGrowthMb: Math.round((peakRss - baseRss) / 1024 / 1024),
    },
    null,
    2,
  ),
);
