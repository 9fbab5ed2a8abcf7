// Audience reads at scale: two shops with N contacts each (default 1,000,000); for shop A,
// GET /api/v1/segments/:id/count and the first page of GET /api/v1/contacts (plain and
// filtered), timed over the real HTTP stack (JWT, session check, readInShop, RLS).
// Usage: npm run bench:audience -- [contactsPerShop=1000000] [requests=200]
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { createLogger } from '../src/logger.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const N = Number(process.argv[2] ?? 1_000_000);
const REQUESTS = Number(process.argv[3] ?? 200);
const database = await benchDatabase('pigeon_bench_audience');
const config = benchConfig(database);
const db = createDb(createPool({ connectionString: database.api, poolSize: 4, applicationName: 'bench-api', pipeline: true }));
const app = await buildApp({ config, db, logger: createLogger('warn') });
await app.ready();
const shops: Array<{ id: string; token: string }> = [];
for (const name of ['A', 'B']) {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: `${name}@example.test`, password: 'correct horse battery staple', shopName: name } });
  shops.push({ id: res.json().shop.id, token: res.json().accessToken });
}
const admin = new pg.Client({ connectionString: database.superuser });
await admin.connect();
let started = Date.now();
for (const shop of shops) {
  await admin.query(
    `insert into app.contacts (shop_id, phone_e164, email, first_name, last_name, tags, country, consent_state, created_at)
     select $1, '+1' || (2000000000 + g)::text, case when g % 4 = 0 then 'u' || g || '@example.test' end, 'First' || (g % 5000), 'Last' || (g % 7000),
            case when g % 10 = 0 then array['vip'] when g % 3 = 0 then array['new', 'boston'] else '{}' end,
            case when g % 20 = 0 then 'FR' else 'US' end,
            (case when g % 5 = 0 then 'unsubscribed' when g % 7 = 0 then 'never' else 'subscribed' end)::app.consent_state,
            now() - (g || ' seconds')::interval
       from generate_series(1, $2) g`,
    [shop.id, N],
  );
}
await admin.query('analyze app.contacts');
const seedMs = Date.now() - started;
const [a] = shops as [{ id: string; token: string }];
const headers = { authorization: `Bearer ${a.token}` };
const segment = await app.inject({
  method: 'POST',
  url: '/api/v1/segments',
  headers,
  payload: { name: 'vip or boston, subscribed, US', rule: { all: [{ field: 'consent', op: 'eq', value: 'subscribed' }, { any: [{ field: 'tags', op: 'has', value: 'vip' }, { field: 'tags', op: 'has', value: 'boston' }] }, { field: 'country', op: 'eq', value: 'US' }] } },
});
const segmentId = segment.json().id;

async function time(url: string, n: number) {
  const samples: number[] = [];
  let body = '';
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const res = await app.inject({ url, headers });
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
    body = res.body;
  }
  samples.sort((x, y) => x - y);
  const pick = (q: number) => Number(samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!.toFixed(1));
  return { p50Ms: pick(0.5), p99Ms: pick(0.99), maxMs: pick(1), sample: body.slice(0, 80) };
}

const results = {
  segmentCount: await time(`/api/v1/segments/${segmentId}/count`, Math.max(10, Math.floor(REQUESTS / 10))),
  contactsFirstPage: await time('/api/v1/contacts?limit=50', REQUESTS),
  contactsFirstPageByTag: await time('/api/v1/contacts?limit=50&tag=vip&consent=subscribed', REQUESTS),
  contactsSearchByPhone: await time('/api/v1/contacts?limit=50&q=%2B1200000', REQUESTS),
};
await app.close();
await db.destroy();
await admin.end();
await database.close();
console.log(JSON.stringify({ benchmark: 'audience', contactsPerShop: N, shops: 2, seedMs, results }, null, 2));
