// Billing: (1) the time from a Stripe webhook's receipt to the credited balance, with the
// real API listening on a port, the real worker (graphile-worker, LISTEN/NOTIFY) applying
// the event, and the fake Stripe; measured per purchase from the database's own clocks:
// stripe_events.received_at (clock_timestamp() in the webhook's transaction) to
// credit_purchases.paid_at (clock_timestamp() at the credit, committed with it).
// (2) A race of webhook deliveries, confirms and reconciler passes over many purchases at
// once (a random non-empty mix per purchase): afterwards every shop's ledger must sum to its
// wallet and every paid purchase must have exactly one purchase entry. Prints JSON.
// Usage: npm run bench:billing -- [latencyPurchases=300] [racePurchases=1000]
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { startWorker } from '../src/worker.js';
import { createStripeClient } from '../src/providers/stripe.js';
import { startFakeStripe } from '../src/providers/stripe/fake-server.js';
import { reconcileBilling } from '../src/modules/billing/reconcile.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const LATENCY_N = Number(process.argv[2] ?? 300);
const RACE_N = Number(process.argv[3] ?? 1000);
const PER_SHOP = 10; // starting a purchase is limited to 10 a minute per shop
const KEY = 'sk_test_benchKey0123456789abcdefghij';
const SECRET = 'whsec_benchSigningSecret0123456789abcd';

const database = await benchDatabase('pigeon_bench_billing');
const fake = await startFakeStripe({ secretKey: KEY, webhookSecret: SECRET });
// Development mode: production refuses a Stripe API that is not https (the fake is http).
const config = benchConfig(database, { NODE_ENV: 'development', STRIPE_SECRET_KEY: KEY, STRIPE_WEBHOOK_SECRETS: SECRET, STRIPE_API_URL: fake.url, PORT: '0' });
const db = createDb(createPool({ connectionString: database.api, poolSize: 10, applicationName: 'bench-api', pipeline: true }));
const app = await buildApp({ config, db, logger: createLogger('warn') });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const stripe = createStripeClient({ secretKey: KEY, apiUrl: fake.url, timeoutMs: 10_000, maxNetworkRetries: 2, breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 1000, volumeThreshold: 1000 } });
const worker = await startWorker({ connectionString: database.worker, concurrency: 4, poolSize: 8, logger: createLogger('warn'), metrics: createMetrics(), crontab: false, stripe });
const admin = new pg.Pool({ connectionString: database.superuser, max: 4 });

let ip = 0;
async function shop(): Promise<{ shopId: string; headers: Record<string, string> }> {
  ip++;
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    remoteAddress: `198.18.${Math.floor(ip / 250)}.${(ip % 250) + 1}`,
    payload: { email: `bench${ip}@example.test`, password: 'correct horse battery staple', shopName: `Bench ${ip}` },
  });
  if (res.statusCode !== 201) throw new Error(`signup ${res.statusCode} ${res.body}`);
  return { shopId: res.json().shop.id, headers: { authorization: `Bearer ${res.json().accessToken}` } };
}

interface Bought {
  purchaseId: string;
  sessionId: string;
  headers: Record<string, string>;
  shopId: string;
}
async function purchases(n: number): Promise<Bought[]> {
  const out: Bought[] = [];
  while (out.length < n) {
    const owner = await shop();
    const batch = await Promise.all(
      Array.from({ length: Math.min(PER_SHOP, n - out.length) }, async () => {
        const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: owner.headers, payload: { packageId: 'starter' } });
        if (res.statusCode !== 201) throw new Error(`purchase ${res.statusCode} ${res.body}`);
        const purchaseId = res.json().purchase.id as string;
        const sessionId = new URL(res.json().checkoutUrl as string).pathname.split('/').pop()!;
        return { purchaseId, sessionId, headers: owner.headers, shopId: owner.shopId };
      }),
    );
    out.push(...batch);
  }
  return out;
}

async function deliver(sessionId: string): Promise<void> {
  const event = await fake.completeSession(sessionId, { deliver: false });
  const payload = JSON.stringify(event);
  const res = await fetch(`${base}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': fake.signatureHeader(payload) }, body: payload });
  if (res.status !== 200) throw new Error(`webhook ${res.status}`);
  await res.arrayBuffer();
}

async function untilPaid(ids: string[], timeoutMs = 120_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { rows } = await admin.query(`select count(*)::int as n from app.credit_purchases where id = any($1::uuid[]) and paid_at is not null`, [ids]);
    if (rows[0].n === ids.length || Date.now() - started > timeoutMs) return rows[0].n;
    await new Promise((r) => setTimeout(r, 50));
  }
}
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

// (1) Latency: webhooks at a steady 50 a second.
const forLatency = await purchases(LATENCY_N);
const sendStarted = Date.now();
for (let i = 0; i < forLatency.length; i++) {
  const due = sendStarted + i * 20;
  if (Date.now() < due) await new Promise((r) => setTimeout(r, due - Date.now()));
  void deliver(forLatency[i]!.sessionId);
}
const paidCount = await untilPaid(forLatency.map((p) => p.purchaseId));
const { rows: latencies } = await admin.query(
  `select extract(epoch from (p.paid_at - e.received_at)) * 1000 as ms
     from app.credit_purchases p join app.stripe_events e on e.session_id = p.stripe_session_id and e.type = 'checkout.session.completed'
    where p.id = any($1::uuid[]) and p.paid_at is not null`,
  [forLatency.map((p) => p.purchaseId)],
);
const ms = latencies.map((r) => Number(r.ms)).sort((a, b) => a - b);

// (2) The race.
const forRace = await purchases(RACE_N);
for (const p of forRace) await fake.completeSession(p.sessionId, { deliver: false }).then(async (event) => {
  (p as Bought & { event?: typeof event }).event = event;
});
const mix = { webhook: 0, confirm: 0, reconciler: 0 };
const raceStarted = Date.now();
const work: Array<Promise<unknown>> = [];
for (const p of forRace) {
  const r = Math.floor(Math.random() * 7) + 1; // a non-empty subset of the three paths
  const event = (p as Bought & { event: Awaited<ReturnType<typeof fake.completeSession>> }).event;
  if (r & 1) {
    mix.webhook++;
    const payload = JSON.stringify(event);
    work.push(fetch(`${base}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': fake.signatureHeader(payload) }, body: payload }).then((res) => res.arrayBuffer()));
  }
  if (r & 2) {
    mix.confirm++;
    work.push(fetch(`${base}/api/v1/billing/purchases/${p.purchaseId}/confirm`, { method: 'POST', headers: { ...p.headers, 'content-type': 'application/json' }, body: '{}' }).then((res) => res.arrayBuffer()));
  }
  if (r & 4) mix.reconciler++;
}
// Reconciler passes running alongside (they settle every pending purchase older than 10 min: "now" is moved on).
for (let i = 0; i < 4; i++) work.push(reconcileBilling(createDb(createPool({ connectionString: database.worker, poolSize: 2, applicationName: `bench-reconcile-${i}` })), stripe, new Date(Date.now() + 11 * 60_000)));
await Promise.all(work);
// Whatever only the reconciler was to settle and a pass missed: one more pass.
await reconcileBilling(createDb(createPool({ connectionString: database.worker, poolSize: 2, applicationName: 'bench-reconcile-last' })), stripe, new Date(Date.now() + 11 * 60_000));
const racePaid = await untilPaid(forRace.map((p) => p.purchaseId));
const raceMs = Date.now() - raceStarted;
const { rows: mismatches } = await admin.query(
  `with ledger as (
     select shop_id, sum(credits) filter (where kind in ('purchase','refund','adjustment','debit','refund_reversal')) as balance from app.credit_ledger group by shop_id)
   select count(*)::int as n from app.wallets w left join ledger l using (shop_id) where w.balance <> coalesce(l.balance, 0)`,
);
const { rows: doubles } = await admin.query(
  `select count(*)::int as n from (select shop_id, reference_id from app.credit_ledger where kind = 'purchase' group by 1, 2 having count(*) <> 1) d`,
);
const { rows: wrongBalance } = await admin.query(
  `select count(*)::int as n from (select p.shop_id, sum(p.credits) filter (where p.paid_at is not null) as due, max(w.balance) as balance
     from app.credit_purchases p join app.wallets w using (shop_id) group by p.shop_id) s where s.due <> s.balance`,
);

console.log(
  JSON.stringify(
    {
      webhookToCredited: { purchases: LATENCY_N, credited: paidCount, rate: '50 webhooks/s', p50Ms: +pct(ms, 50).toFixed(1), p99Ms: +pct(ms, 99).toFixed(1), maxMs: +ms[ms.length - 1]!.toFixed(1) },
      race: { purchases: RACE_N, mix, credited: racePaid, seconds: +(raceMs / 1000).toFixed(1), ledgerWalletMismatches: mismatches[0].n, purchasesNotCreditedExactlyOnce: doubles[0].n, shopsWhoseBalanceIsNotTheirPaidCredits: wrongBalance[0].n },
    },
    null,
    2,
  ),
);
await worker.stop();
await app.close();
stripe.shutdown();
await fake.close();
await admin.end();
await db.destroy().catch(() => {});
await database.close();
process.exit(0);
