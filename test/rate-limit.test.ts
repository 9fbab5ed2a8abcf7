// Rate limits: a Postgres counter shared by every instance, an in-memory prefilter in
// front of it, keys per IP (proxy-aware) or per shop, exemptions, and a locked-down table.
import { Writable } from 'node:stream';
import t, { type Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import type { JobHelpers } from 'graphile-worker';
import { buildApp } from '../src/app.js';
import { loadConfig, type Env } from '../src/config.js';
import { createDb, createPool, type Db } from '../src/db/kysely.js';
import { createLogger } from '../src/logger.js';
import { setWorkerDb } from '../src/worker-context.js';
import rateLimitSweep from '../tasks/rate_limit_sweep.js';
import { createTestDatabase } from './helpers/database.js';

const db = await createTestDatabase(t);

interface Started {
  app: FastifyInstance;
  logs: () => Array<Record<string, unknown>>;
  close: () => Promise<void>;
}

/** The real app with a few probe routes; closed at the end of the test unless closed before. */
async function start(t: Test, env: Env = {}, appDb: Db = db.apiDb): Promise<Started> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '3',
    RATE_LIMIT_WINDOW_MS: '60000',
    RATE_LIMIT_PREFILTER_MAX: '1000',
    ...env,
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  const app = await buildApp({ config, db: appDb, logger: createLogger(config.logLevel, sink) });
  app.get('/probe', async () => ({ ok: true }));
  // A route with its own limit, as login and signup will have.
  app.get('/probe/strict', { config: { rateLimit: { max: 1, timeWindow: '1 minute' } } }, async () => ({ ok: true }));
  app.get(
    '/probe/auth',
    { config: { rateLimit: { max: 5, timeWindow: '15 minutes', failClosed: true } } },
    async () => ({ ok: true }),
  );
  // Stands in for authentication, which will set the shop in an onRequest hook.
  app.get(
    '/probe/shop',
    {
      onRequest: async (request) => {
        const shop = request.headers['x-test-shop'];
        if (typeof shop === 'string') request.rateLimitShopId = shop;
      },
    },
    async () => ({ ok: true }),
  );
  await app.ready();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  t.teardown(close);
  return {
    app,
    logs: () => lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    close,
  };
}

function get(app: FastifyInstance, url: string, remoteAddress: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'GET', url, remoteAddress, headers });
}

async function hitsFor(key: string): Promise<number | null> {
  const { rows } = await db.admin.query<{ hits: number }>('select hits from app.rate_limit_hits where key = $1', [key]);
  return rows[0]?.hits ?? null;
}

async function refusals(app: FastifyInstance, scope: string): Promise<number> {
  const metric = await app.metrics.rateLimitRefusals.get();
  return metric.values.find((v) => v.labels.scope === scope)?.value ?? 0;
}

t.test('the request over the limit gets 429 in the error envelope with Retry-After', async (t) => {
  const { app } = await start(t);
  const ip = '10.1.0.1';
  for (let i = 1; i <= 3; i++) {
    const res = await get(app, '/probe', ip);
    t.equal(res.statusCode, 200, `request ${i} is allowed`);
    t.equal(res.headers['x-ratelimit-limit'], '3');
    t.equal(res.headers['x-ratelimit-remaining'], String(3 - i));
    t.match(res.headers['x-ratelimit-reset'], /^\d+$/);
  }
  const refused = await get(app, '/probe', ip);
  t.equal(refused.statusCode, 429);
  const body = refused.json();
  t.equal(body.error.code, 'RATE_LIMITED');
  t.type(body.error.message, 'string');
  t.equal(body.error.requestId, refused.headers['x-request-id']);
  t.same(Object.keys(body.error).sort(), ['code', 'message', 'requestId']);
  t.match(refused.headers['retry-after'], /^[1-9]\d*$/);
  t.ok(Number(refused.headers['retry-after']) <= 60, 'Retry-After is within the window');
  t.equal(refused.headers['x-ratelimit-remaining'], '0');
  t.equal(await hitsFor(`ip:${ip}`), 4, 'one counter row for the address');
  t.equal(await refusals(app, 'global'), 1, 'the refusal is counted under the global scope');
});

t.test('a new window starts once the stored window has expired', async (t) => {
  const { app } = await start(t);
  const ip = '10.1.0.2';
  for (let i = 0; i < 4; i++) await get(app, '/probe', ip);
  t.equal((await get(app, '/probe', ip)).statusCode, 429);
  await db.admin.query(`update app.rate_limit_hits set expires_at = now() - interval '1 second' where key = $1`, [`ip:${ip}`]);
  const res = await get(app, '/probe', ip);
  t.equal(res.statusCode, 200);
  t.equal(res.headers['x-ratelimit-remaining'], '2');
  t.equal(await hitsFor(`ip:${ip}`), 1);
});

t.test('the count survives a restart of the app', async (t) => {
  const ip = '10.1.0.3';
  const first = await start(t);
  for (let i = 0; i < 3; i++) t.equal((await get(first.app, '/probe', ip)).statusCode, 200);
  await first.close();
  const second = await start(t);
  t.equal((await get(second.app, '/probe', ip)).statusCode, 429, 'the restarted app remembers the count');
});

t.test('two instances share one counter', async (t) => {
  const ip = '10.1.0.4';
  const a = await start(t);
  const b = await start(t);
  t.equal((await get(a.app, '/probe', ip)).statusCode, 200);
  t.equal((await get(b.app, '/probe', ip)).statusCode, 200);
  const third = await get(a.app, '/probe', ip);
  t.equal(third.statusCode, 200);
  t.equal(third.headers['x-ratelimit-remaining'], '0');
  t.equal((await get(b.app, '/probe', ip)).statusCode, 429);
});

t.test('the prefilter refuses a flood before it reaches the database', async (t) => {
  const { app } = await start(t, { RATE_LIMIT_MAX: '100', RATE_LIMIT_PREFILTER_MAX: '2' });
  const ip = '10.1.0.5';
  t.equal((await get(app, '/probe', ip)).statusCode, 200);
  t.equal((await get(app, '/probe', ip)).statusCode, 200);
  for (let i = 0; i < 5; i++) {
    const res = await get(app, '/probe', ip);
    t.equal(res.statusCode, 429);
    t.equal(res.json().error.code, 'RATE_LIMITED');
    t.equal(res.json().error.requestId, res.headers['x-request-id']);
    t.match(res.headers['retry-after'], /^[1-9]\d*$/);
  }
  t.equal(await hitsFor(`ip:${ip}`), 2, 'refused requests added no hits');
  t.equal(await refusals(app, 'prefilter'), 5);
  t.equal(await refusals(app, 'global'), 0);
  // The prefilter also stands in front of 404s, which never reach the shared store.
  t.equal((await get(app, '/no-such-route', ip)).statusCode, 429);
  t.equal((await get(app, '/probe', '10.1.0.6')).statusCode, 200, 'another address is unaffected');
});

t.test('different addresses have separate counters', async (t) => {
  const { app } = await start(t);
  for (let i = 0; i < 3; i++) t.equal((await get(app, '/probe', '10.1.0.7')).statusCode, 200);
  t.equal((await get(app, '/probe', '10.1.0.7')).statusCode, 429);
  const other = await get(app, '/probe', '10.1.0.8');
  t.equal(other.statusCode, 200);
  t.equal(other.headers['x-ratelimit-remaining'], '2');
});

t.test('IPv6 clients are limited per /64', async (t) => {
  const { app } = await start(t);
  for (let i = 1; i <= 3; i++) t.equal((await get(app, '/probe', `2001:db8:1:2::${i}`)).statusCode, 200);
  t.equal((await get(app, '/probe', '2001:db8:1:2::99')).statusCode, 429, 'rotating within the /64 does not escape');
  t.equal((await get(app, '/probe', '2001:db8:1:3::1')).statusCode, 200, 'another /64 has its own counter');
});

t.test('behind a trusted proxy the forwarded client address is the key', async (t) => {
  const { app } = await start(t, { TRUST_PROXY: '127.0.0.1' });
  const client = { 'x-forwarded-for': '203.0.113.7' };
  for (let i = 0; i < 3; i++) t.equal((await get(app, '/probe', '127.0.0.1', client)).statusCode, 200);
  t.equal((await get(app, '/probe', '127.0.0.1', client)).statusCode, 429);
  t.equal(await hitsFor('ip:203.0.113.7'), 4);
  t.equal(await hitsFor('ip:127.0.0.1'), null, 'the proxy itself is not the key');
  const otherClient = await get(app, '/probe', '127.0.0.1', { 'x-forwarded-for': '203.0.113.8' });
  t.equal(otherClient.statusCode, 200, 'another client behind the same proxy has its own budget');
});

t.test('X-Forwarded-For from an untrusted peer is ignored', async (t) => {
  const { app } = await start(t);
  const peer = '198.51.100.9';
  for (let i = 0; i < 3; i++) {
    t.equal((await get(app, '/probe', peer, { 'x-forwarded-for': `203.0.113.${100 + i}` })).statusCode, 200);
  }
  const rotated = await get(app, '/probe', peer, { 'x-forwarded-for': '203.0.113.200' });
  t.equal(rotated.statusCode, 429, 'a rotating X-Forwarded-For does not escape the limit');
  t.equal(await hitsFor(`ip:${peer}`), 4);
  t.equal(await hitsFor('ip:203.0.113.100'), null);
});

t.test('an authenticated request spends its shop budget, whatever its address', async (t) => {
  const { app } = await start(t);
  const shop = { 'x-test-shop': '6f1c1f7e-9a51-4d7f-8a3c-1d2e3f405162' };
  for (let i = 1; i <= 3; i++) t.equal((await get(app, '/probe/shop', `10.2.0.${i}`, shop)).statusCode, 200);
  t.equal((await get(app, '/probe/shop', '10.2.0.4', shop)).statusCode, 429);
  t.equal(await hitsFor(`shop:${shop['x-test-shop']}`), 4);
  t.equal(await hitsFor('ip:10.2.0.1'), null, 'no per-address counter for authenticated requests');
  t.equal((await get(app, '/probe/shop', '10.2.0.4')).statusCode, 200, 'the same address unauthenticated has its own budget');
});

t.test('a route with its own limit has its own counters', async (t) => {
  const { app } = await start(t);
  const ip = '10.1.0.9';
  const first = await get(app, '/probe/strict', ip);
  t.equal(first.statusCode, 200);
  t.equal(first.headers['x-ratelimit-limit'], '1');
  const refused = await get(app, '/probe/strict', ip);
  t.equal(refused.statusCode, 429);
  t.equal(refused.json().error.code, 'RATE_LIMITED');
  t.ok(Number(refused.headers['retry-after']) > 0);
  t.equal(await refusals(app, '/probe/strict'), 1, 'the refusal is counted under the route');
  t.equal(await refusals(app, 'global'), 0);
  const global = await get(app, '/probe', ip);
  t.equal(global.statusCode, 200, 'the global budget is untouched');
  t.equal(global.headers['x-ratelimit-remaining'], '2');
  t.equal(await hitsFor(`route:GET /probe/strict|ip:${ip}`), 2);
  t.equal(await hitsFor(`ip:${ip}`), 1);
  // HEAD runs the same handler: it spends the GET route's budget, not a fresh one.
  t.equal((await app.inject({ method: 'HEAD', url: '/probe/strict', remoteAddress: ip })).statusCode, 429);
});

t.test('health checks and metrics are never limited', async (t) => {
  const { app } = await start(t, { RATE_LIMIT_MAX: '1', RATE_LIMIT_PREFILTER_MAX: '1' });
  const ip = '127.0.0.1';
  for (let i = 0; i < 5; i++) {
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      const res = await get(app, url, ip);
      t.equal(res.statusCode, 200, `${url} #${i + 1}`);
      t.notOk(res.headers['x-ratelimit-limit'], `${url} carries no limit headers`);
    }
  }
  t.equal(await hitsFor(`ip:${ip}`), null, 'no counter row was written');
});

t.test('the global limit fails open when the database is unreachable, a failClosed route answers 503', async (t) => {
  // Nothing listens on port 1: every connection is refused at once.
  const deadPool = createPool({ connectionString: 'postgres://nobody:x@127.0.0.1:1/none', poolSize: 1, applicationName: 'dead' });
  const deadDb = createDb(deadPool);
  t.teardown(() => deadDb.destroy());
  const { app, logs } = await start(t, { RATE_LIMIT_MAX: '1' }, deadDb);
  for (let i = 0; i < 3; i++) t.equal((await get(app, '/probe', '10.3.0.1')).statusCode, 200, 'global limit lets requests through');
  const warning = logs().find((l) => l.msg === 'rate limit store unavailable: allowing requests');
  t.ok(warning, 'the outage is logged');
  t.equal(warning?.level, 40, 'as a warning');
  const closed = await get(app, '/probe/auth', '10.3.0.1');
  t.equal(closed.statusCode, 503);
  t.equal(closed.json().error.code, 'SERVICE_UNAVAILABLE');
  t.equal(closed.headers['retry-after'], '5');
});

t.test('the run-time roles cannot touch the counters table directly', async (t) => {
  for (const [role, pool] of [
    ['pigeon_api', db.apiPool],
    ['pigeon_worker', db.workerPool],
  ] as const) {
    await t.rejects(pool.query('select * from app.rate_limit_hits'), { code: '42501' }, `${role} select`);
    await t.rejects(
      pool.query(`insert into app.rate_limit_hits (key, hits, expires_at) values ('ip:1.2.3.4', 1, now())`),
      { code: '42501' },
      `${role} insert`,
    );
    await t.rejects(pool.query('update app.rate_limit_hits set hits = 0'), { code: '42501' }, `${role} update`);
    await t.rejects(pool.query('delete from app.rate_limit_hits'), { code: '42501' }, `${role} delete`);
    await t.rejects(pool.query('truncate app.rate_limit_hits'), { code: '42501' }, `${role} truncate`);
  }
  await t.rejects(db.apiPool.query('select app_private.rate_limit_sweep()'), { code: '42501' }, 'the API cannot sweep');
  const { rows } = await db.apiPool.query('select hits from app_private.rate_limit_hit($1, $2)', ['test:direct', 60_000]);
  t.equal(rows[0].hits, 1, 'the API counts through the function');
});

t.test('the sweep deletes expired counters only', async (t) => {
  await db.admin.query(
    `insert into app.rate_limit_hits (key, hits, expires_at) values
       ('sweep:old', 7, now() - interval '1 minute'), ('sweep:live', 2, now() + interval '1 hour')`,
  );
  const { rows } = await db.workerPool.query<{ n: number }>('select app_private.rate_limit_sweep() as n');
  t.ok(rows[0]!.n >= 1, 'reports what it deleted');
  t.equal(await hitsFor('sweep:old'), null);
  t.equal(await hitsFor('sweep:live'), 2);
});

t.test('the rate_limit_sweep task runs the sweep as the worker', async (t) => {
  await db.admin.query(`insert into app.rate_limit_hits (key, hits, expires_at) values ('task:old', 1, now() - interval '1 second')`);
  setWorkerDb(db.workerDb);
  t.teardown(() => setWorkerDb(undefined));
  const messages: string[] = [];
  const helpers = { logger: { info: (message: string) => messages.push(message) } } as unknown as JobHelpers;
  await rateLimitSweep({}, helpers);
  t.equal(await hitsFor('task:old'), null);
  t.match(messages.join('\n'), /deleted [1-9]\d* expired/);
});
