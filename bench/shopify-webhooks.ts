// Shopify webhook acknowledgement latency: the API listening on a port (startApiServer, the
// production configuration, its pipelined pool), N installed shops (rows written as fixtures
// by the superuser), and signed webhooks POSTed at a steady rate (default 200 a second for
// 30 s) by a load generator in its own process (this file, forked), over undici keep-alive
// connections. Each request's time to its 200 is measured on the client, from the moment it
// was due (so a client running late cannot hide latency) and from the moment it was sent.
// The topics are mixed as Shopify would send them: mostly customers/update and
// orders/create, and app/uninstalled for a few shops part-way (their later webhooks are
// acknowledged and ignored). No worker runs: what is measured is the acknowledgement (HMAC,
// one recording statement, 200); the jobs stay queued. Prints JSON.
// Usage: npm run bench:shopify-webhooks -- [rate=200] [seconds=30] [shops=100] [connections=32]
import { fork } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { loadavg, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { createLogger } from '../src/logger.js';
import { startApiServer } from '../src/server.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const API_KEY = 'pigeon-bench-app';
const API_SECRET = 'shpss_benchSecret0123456789abcdef0123';

interface LoadPlan {
  base: string;
  shops: string[];
  /** Indexes of the shops that uninstall, each at its own time. */
  uninstalls: Array<{ shop: string; atMs: number }>;
  rate: number;
  seconds: number;
  connections: number;
}

interface LoadResult {
  sent: number;
  ok: number;
  statuses: Record<string, number>;
  duplicates: number;
  byTopic: Record<string, number>;
  fromDueMs: number[];
  fromSendMs: number[];
  maxLateMs: number;
  wallSeconds: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const round = (n: number) => Math.round(n * 100) / 100;
function summary(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1] ?? NaN) };
}

// ---------------------------------------------------------------------------------------------
// The load generator (child process).

function customerPayload(id: number) {
  const now = new Date().toISOString();
  return {
    id,
    email: `customer${id}@example.test`,
    created_at: now,
    updated_at: now,
    first_name: 'Ada',
    last_name: `Customer ${id}`,
    state: 'enabled',
    verified_email: true,
    phone: `+1415555${String(id % 10000).padStart(4, '0')}`,
    tags: 'vip, newsletter',
    currency: 'USD',
    admin_graphql_api_id: `gid://shopify/Customer/${id}`,
    email_marketing_consent: { state: 'subscribed', opt_in_level: 'single_opt_in', consent_updated_at: now },
    sms_marketing_consent: { state: 'subscribed', opt_in_level: 'single_opt_in', consent_updated_at: now, consent_collected_from: 'SHOPIFY' },
    default_address: { id: id + 1, customer_id: id, address1: '1 Main St', city: 'San Francisco', province: 'California', country: 'United States', zip: '94103', phone: null, country_code: 'US', default: true },
  };
}

function orderPayload(id: number, customerId: number) {
  const now = new Date().toISOString();
  return {
    id,
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: `#${1000 + (id % 100000)}`,
    created_at: now,
    updated_at: now,
    currency: 'USD',
    total_price: '42.50',
    subtotal_price: '40.00',
    total_tax: '2.50',
    financial_status: 'paid',
    customer: { id: customerId, admin_graphql_api_id: `gid://shopify/Customer/${customerId}`, phone: `+1415555${String(customerId % 10000).padStart(4, '0')}`, email: `customer${customerId}@example.test` },
    line_items: Array.from({ length: 3 }, (_, i) => ({ id: id * 10 + i, title: `Product ${i}`, quantity: 1 + i, price: '10.00', sku: `SKU-${i}`, variant_id: 900 + i, product_id: 800 + i })),
    shipping_address: { address1: '1 Main St', city: 'San Francisco', province_code: 'CA', country_code: 'US', zip: '94103' },
  };
}

function signed(topic: string, shop: string, payload: unknown): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-hmac-sha256': createHmac('sha256', API_SECRET).update(body).digest('base64'),
      'x-shopify-shop-domain': shop,
      'x-shopify-api-version': '2025-10',
      'x-shopify-webhook-id': randomUUID(),
      'x-shopify-event-id': randomUUID(),
      'x-shopify-triggered-at': new Date().toISOString(),
    },
  };
}

async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const pool = new Pool(plan.base, { connections: plan.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const total = plan.rate * plan.seconds;
  const interval = 1000 / plan.rate;
  const pendingUninstalls = [...plan.uninstalls].sort((a, b) => a.atMs - b.atMs);
  const result: LoadResult = { sent: 0, ok: 0, statuses: {}, duplicates: 0, byTopic: {}, fromDueMs: [], fromSendMs: [], maxLateMs: 0, wallSeconds: 0 };
  const inFlight = new Set<Promise<void>>();
  let sequence = 0;

  // A few warm-up requests (connections, JIT) that are not measured.
  for (let i = 0; i < 50; i++) {
    const w = signed('customers/update', plan.shops[i % plan.shops.length]!, customerPayload(1_000_000 + i));
    const res = await pool.request({ method: 'POST', path: '/webhooks/shopify', headers: w.headers, body: w.body });
    await res.body.dump();
  }

  const next = (elapsed: number): { topic: string; shop: string; payload: unknown } => {
    sequence++;
    if (pendingUninstalls.length && pendingUninstalls[0]!.atMs <= elapsed) {
      const { shop } = pendingUninstalls.shift()!;
      return { topic: 'app/uninstalled', shop, payload: { id: sequence, name: shop.replace('.myshopify.com', ''), domain: shop, myshopify_domain: shop } };
    }
    const shop = plan.shops[sequence % plan.shops.length]!;
    return sequence % 5 < 3
      ? { topic: 'customers/update', shop, payload: customerPayload(sequence) }
      : { topic: 'orders/create', shop, payload: orderPayload(sequence, sequence % 5000) };
  };

  const send = (dueAt: number, startedAt: number): void => {
    const { topic, shop, payload } = next(dueAt - startedAt);
    const webhook = signed(topic, shop, payload);
    result.byTopic[topic] = (result.byTopic[topic] ?? 0) + 1;
    result.sent++;
    const sentAt = performance.now();
    result.maxLateMs = Math.max(result.maxLateMs, sentAt - dueAt);
    const p = (async () => {
      try {
        const res = await pool.request({ method: 'POST', path: '/webhooks/shopify', headers: webhook.headers, body: webhook.body });
        const text = await res.body.text();
        const doneAt = performance.now();
        result.statuses[res.statusCode] = (result.statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode === 200) {
          result.ok++;
          result.fromDueMs.push(doneAt - dueAt);
          result.fromSendMs.push(doneAt - sentAt);
          if ((JSON.parse(text) as { duplicate?: boolean }).duplicate) result.duplicates++;
        }
      } catch {
        result.statuses.error = (result.statuses.error ?? 0) + 1;
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  // Open loop: request i is due at start + i × interval whatever the answers do.
  const startedAt = performance.now();
  let issued = 0;
  while (issued < total) {
    const now = performance.now();
    while (issued < total && startedAt + issued * interval <= now) {
      send(startedAt + issued * interval, startedAt);
      issued++;
    }
    const wait = startedAt + issued * interval - performance.now();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(wait, 5))));
  }
  await Promise.all(inFlight);
  result.wallSeconds = (performance.now() - startedAt) / 1000;
  await pool.close();
  return result;
}

if (process.argv[2] === '--load') {
  process.once('message', (plan: LoadPlan) => {
    runLoad(plan).then(
      (result) => process.send!(result, () => process.exit(0)),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
} else {
  await main();
}

// ---------------------------------------------------------------------------------------------
// The bench (parent): database, shops, API; then the load generator's figures.

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 200);
  const seconds = Number(process.argv[3] ?? 30);
  const shopCount = Number(process.argv[4] ?? 100);
  const connections = Number(process.argv[5] ?? 32);

  const database = await benchDatabase('pigeon_bench_shopify_webhooks');
  const config = benchConfig(database, { SHOPIFY_API_KEY: API_KEY, SHOPIFY_API_SECRET: API_SECRET, HOST: '127.0.0.1', PORT: '0' });
  const admin = new pg.Pool({ connectionString: database.superuser, max: 2 });
  const shops = Array.from({ length: shopCount }, (_, i) => `bench-${i}-${randomUUID().slice(0, 6)}.myshopify.com`);
  await admin.query(
    `with s as (
       insert into app.shops (name, shopify_domain, shopify_installed_at)
       select split_part(d, '.', 1), d, now() - interval '1 day' from unnest($1::text[]) as d
       returning id)
     insert into app.shop_settings (shop_id) select id from s`,
    [shops],
  );
  const server = await startApiServer(config, database.api, createLogger('warn'));
  const uninstalls = shops.slice(0, Math.min(5, shopCount)).map((shop, i) => ({ shop, atMs: ((i + 1) * seconds * 1000) / 7 }));

  const loadBefore = loadavg()[0]!;
  // The API's own CPU (this process: the server; the client is the child) per webhook, which
  // depends less on what else the machine runs than the latency does.
  const cpuBefore = process.cpuUsage();
  const child = fork(fileURLToPath(import.meta.url), ['--load'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const result = await new Promise<LoadResult>((resolve, reject) => {
    child.once('message', (message) => resolve(message as LoadResult));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`the load generator exited with ${code}`))));
    child.send({ base: server.url, shops, uninstalls, rate, seconds, connections } satisfies LoadPlan);
  });

  const cpu = process.cpuUsage(cpuBefore);
  const apiCpuMsPerWebhook = (cpu.user + cpu.system) / 1000 / (result.sent + 50);
  const { rows: recorded } = await admin.query<{ status: string; n: number }>(`select status, count(*)::int as n from app.shopify_webhooks group by status order by status`);
  const { rows: jobs } = await admin.query<{ n: number }>(`select count(*)::int as n from graphile_worker._private_jobs`);
  const { rows: uninstalled } = await admin.query<{ n: number }>(`select count(*)::int as n from app.shops where uninstalled_at is not null`);

  console.log(
    JSON.stringify(
      {
        bench: 'shopify-webhooks',
        note: 'acknowledgement only: no worker runs, so the app/uninstalled jobs stay queued and the uninstalled shops are marked by no one',
        machine: { cpus: cpus().length, loadAverage1mBefore: round(loadBefore), loadAverage1mAfter: round(loadavg()[0]!) },
        setup: { rate, seconds, shops: shopCount, clientConnections: connections, apiPoolSize: config.databasePoolSize, nodeEnv: config.nodeEnv, client: 'separate process, undici Pool keep-alive, open loop' },
        // 50 unmeasured warm-up webhooks come first (they are in `recorded`).
        requests: { sent: result.sent, ok: result.ok, statuses: result.statuses, duplicates: result.duplicates, byTopic: result.byTopic },
        throughputPerSecond: round(result.ok / result.wallSeconds),
        apiCpuMsPerWebhook: round(apiCpuMsPerWebhook),
        latencyMsFromDue: summary(result.fromDueMs),
        latencyMsFromSend: summary(result.fromSendMs),
        clientMaxLateMs: round(result.maxLateMs),
        recorded: Object.fromEntries(recorded.map((r) => [r.status, r.n])),
        jobsQueued: jobs[0]!.n,
        shopsUninstalled: uninstalled[0]!.n,
      },
      null,
      2,
    ),
  );
  await server.stop();
  await admin.end();
  await database.close();
}
