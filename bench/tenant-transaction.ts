// The cost of the tenant transaction. Four routes, measured in one run with autocannon:
//   /health/live       no database
//   /bench/bare        the select on a plain pool connection (no transaction, no RLS)
//   /bench/naive       BEGIN / set_config / select / COMMIT: four round trips, RLS
//   /api/v1/bench/authenticated  the read-in-shop route behind a Bearer token: JWT check + session lookup
//   /bench/with-shop   withShop() on the API's pipelined pool: BEGIN+set_config travel with
//                      the select (one round trip), then COMMIT; RLS
//   /bench/read-in-shop  readInShop() (GET routes): the same, READ ONLY, COMMIT queued
//                      without waiting (one round trip in all)
// Usage: npm run bench:tenant-tx -- [seconds per run=5] [pool size=10] [rounds=4]
// Prints one JSON object: median requests/s and p99 (ms) per route over interleaved
// rounds, and the ratios to bare.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { createDb, createPool, type Db } from '../src/db/kysely.js';
import { readInShop, withShop } from '../src/db/with-shop.js';
import { authOf, requireAuth } from '../src/plugins/auth.js';
import { createLogger } from '../src/logger.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const DURATION_S = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[4] ?? 4);
const CONNECTIONS = 20;
const POOL_SIZE = Number(process.argv[3] ?? 10);
const EVENTS_PER_SHOP = 5_000;

const database = await benchDatabase('pigeon_bench_tenant_tx');
const setup = new pg.Client({ connectionString: database.superuser });
await setup.connect();
const shopA = randomUUID();
const shopB = randomUUID();
for (const shop of [shopA, shopB]) {
  await setup.query('insert into app.shops (id, name) values ($1, $2)', [shop, 'bench']);
  await setup.query(
    `insert into app.audit_events (shop_id, action, result, created_at)
       select $1, 'bench.event', 'success', now() - (g || ' seconds')::interval from generate_series(1, $2) g`,
    [shop, EVENTS_PER_SHOP],
  );
}
await setup.query('analyze');
await setup.end();

const apiPool = createPool({ connectionString: database.api, poolSize: POOL_SIZE, applicationName: 'bench-api', pipeline: true });
const db = createDb(apiPool);
// The baseline runs the same statement on a connection where RLS does not apply.
const barePool = createPool({ connectionString: database.superuser, poolSize: POOL_SIZE, applicationName: 'bench-bare' });
const config = benchConfig(database, { PORT: '0' });
const app = await buildApp({ config, db, logger: createLogger('warn') });

let n = 0;
const nextShop = () => (n++ % 2 === 0 ? shopA : shopB);
// The same Kysely query in every variant, so only the transaction handling differs.
const newestEvents = (executor: Db, shop: string) =>
  executor.selectFrom('app.audit_events').select(['id', 'action', 'created_at']).where('shop_id', '=', shop).orderBy('created_at', 'desc').limit(20).execute();
const bareDb = createDb(barePool);
// Benchmark routes are exempt from the rate limiter: its store would add a statement per request.
const exempt = { config: { rateLimit: false } } as const;

app.get('/bench/bare', exempt, async () => newestEvents(bareDb, nextShop()));
app.get('/bench/naive', exempt, async () => {
  const shop = nextShop();
  return db.connection().execute(async (conn) => {
    await sql`begin`.execute(conn);
    await sql`select set_config('app.shop_id', ${shop}, true)`.execute(conn);
    const rows = await newestEvents(conn, shop);
    await sql`commit`.execute(conn);
    return rows;
  });
});
// The same select behind authentication: JWT verification and the per-request session and
// role lookup (app_private.session_role), then withShop for the token's shop.
app.get('/api/v1/bench/authenticated', { ...exempt, preHandler: requireAuth }, async (request) => {
  const { shopId, userId } = authOf(request);
  // As the real GET routes do.
  return readInShop(db, shopId, (tx) => newestEvents(tx, shopId), userId);
});
app.get('/bench/with-shop', exempt, async () => {
  const shop = nextShop();
  return withShop(db, shop, (tx) => newestEvents(tx, shop));
});
// The read-only variant for GET routes: its COMMIT is queued, not waited for.
app.get('/bench/read-in-shop', exempt, async () => {
  const shop = nextShop();
  return readInShop(db, shop, (tx) => newestEvents(tx, shop));
});
// The same withShop on a pool without pipeline mode: what pipelining the start saves.
const plainDb = createDb(createPool({ connectionString: database.api, poolSize: POOL_SIZE, applicationName: 'bench-api-plain' }));
app.get('/bench/with-shop-unpipelined', exempt, async () => {
  const shop = nextShop();
  return withShop(plainDb, shop, (tx) => newestEvents(tx, shop));
});
await app.listen({ host: '127.0.0.1', port: 0 });
// A real account: signup through the API gives a session and an access token for its shop.
const signedUp = await app.inject({
  method: 'POST',
  url: '/api/v1/auth/signup',
  payload: { email: 'bench@example.test', password: 'correct horse battery staple', shopName: 'Bench' },
});
if (signedUp.statusCode !== 201) throw new Error(`signup failed: ${signedUp.body}`);
const accessToken = signedUp.json().accessToken as string;
const benchShop = signedUp.json().shop.id as string;
{
  const seed = new pg.Client({ connectionString: database.superuser });
  await seed.connect();
  await seed.query(
    `insert into app.audit_events (shop_id, action, result, created_at)
       select $1, 'bench.event', 'success', now() - (g || ' seconds')::interval from generate_series(1, $2) g`,
    [benchShop, EVENTS_PER_SHOP],
  );
  await seed.end();
}
const { port } = app.server.address() as { port: number };

// autocannon runs in its own process so that the load generator does not share the
// server's event loop.
function autocannon(path: string, seconds: number): Promise<{ requests: { average: number }; latency: { p99: number; p50: number }; non2xx: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const auth = path === '/api/v1/bench/authenticated' ? ['-H', `authorization=Bearer ${accessToken}`] : [];
    const child = spawn(process.execPath, [autocannonBin, '--json', '-c', String(CONNECTIONS), '-d', String(seconds), ...auth, `http://127.0.0.1:${port}${path}`], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => {
      try {
        resolve(JSON.parse(out));
      } catch (error) {
        reject(error);
      }
    });
  });
}

async function measure(path: string, seconds: number) {
  const result = await autocannon(path, seconds);
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99Ms: result.latency.p99 };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

// Rounds interleave the routes so that drift of this (virtual) machine hits all of them alike.
const PATHS = ['/health/live', '/bench/bare', '/bench/naive', '/bench/with-shop', '/bench/read-in-shop', '/bench/with-shop-unpipelined', '/api/v1/bench/authenticated'];
for (const path of PATHS) await measure(path, 2); // warm up connections, plans and the JIT
const samples: Record<string, Array<{ rps: number; p99Ms: number }>> = Object.fromEntries(PATHS.map((p) => [p, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const path of PATHS) samples[path]!.push(await measure(path, DURATION_S));
}
const results = Object.fromEntries(
  PATHS.map((p) => [p, { rps: Math.round(median(samples[p]!.map((s) => s.rps))), p99Ms: median(samples[p]!.map((s) => s.p99Ms)) }]),
);
const perRound = (path: string) => samples[path]!.map((s, i) => Number((s.rps / samples['/bench/bare']![i]!.rps).toFixed(3)));
await app.close();
await db.destroy();
await plainDb.destroy();
await bareDb.destroy();
await database.close();

const bare = results['/bench/bare']!.rps;
console.log(
  JSON.stringify(
    {
      benchmark: 'tenant-transaction',
      rounds: ROUNDS,
      secondsPerRun: DURATION_S,
      connections: CONNECTIONS,
      poolSize: POOL_SIZE,
      results,
      ratioWithShopToBare: Number((results['/bench/with-shop']!.rps / bare).toFixed(3)),
      ratioReadInShopToBare: Number((results['/bench/read-in-shop']!.rps / bare).toFixed(3)),
      ratioNaiveToBare: Number((results['/bench/naive']!.rps / bare).toFixed(3)),
      ratioAuthenticatedToReadInShop: Number((results['/api/v1/bench/authenticated']!.rps / results['/bench/read-in-shop']!.rps).toFixed(3)),
      ratioUnpipelinedWithShopToBare: Number((results['/bench/with-shop-unpipelined']!.rps / bare).toFixed(3)),
      ratioWithShopToBarePerRound: perRound('/bench/with-shop'),
      ratioReadInShopToBarePerRound: perRound('/bench/read-in-shop'),
      ratioNaiveToBarePerRound: perRound('/bench/naive'),
    },
    null,
    2,
  ),
);
