// The request pipeline every route uses: errors, CORS, proxies, headers, health, metrics, docs, logs.
import t, { type Test } from 'tap';
import { sql } from 'kysely';
import { withShop } from '../src/db/with-shop.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { publicBaseUrl } from '../src/lib/public-base-url.js';
import { createTestDatabase } from './helpers/database.js';
import { createShop } from './helpers/fixtures.js';
import { buildTestApp, STRONG_SECRET, TEST_ENCRYPTION_KEYS } from './helpers/app.js';

const db = await createTestDatabase(t);
const shopA = await createShop(db.admin, 'Shop A');

const productionEnv = {
  NODE_ENV: 'production',
  DATABASE_URL: db.apiUrl,
  PUBLIC_BASE_URL: 'https://api.pigeon.test',
  JWT_SECRET: STRONG_SECRET,
  IP_HASH_SECRET: `${STRONG_SECRET}-ip`,
  ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
  ALLOWED_ORIGINS: 'https://app.pigeon.test',
  ALLOWED_FORWARDED_HOSTS: 'shop-admin.pigeon.test',
  TRUST_PROXY: '10.0.0.1',
  METRICS_TOKEN: 'm3tr1cs-T0ken-for-tests-0123456789abcdef',
  METRICS_ALLOWED_IPS: '10.9.9.9',
  // Production refuses to start without Stripe (never called here).
  STRIPE_SECRET_KEY: 'sk_test_51PigeonPipelineTestKey0123456789',
  STRIPE_WEBHOOK_SECRETS: 'whsec_UGlnZW9uUGlwZWxpbmVUZXN0U2VjcmV0',
};

const { app, rawLogs } = await buildTestApp(t, db.apiDb, productionEnv, (app) => {
  app.get('/probe/db-error', async () => {
    // A unique violation inside a tenant transaction: the response must not leak any of it.
    await withShop(app.db, shopA, async (tx) => {
      await sql`insert into app.shop_settings (shop_id) values (${shopA})`.execute(tx);
    });
    return {};
  });
  app.get('/probe/sql-error', async () => {
    await sql`select secret_column from app.no_such_table`.execute(app.db);
    return {};
  });
  app.get('/probe/crash', async () => {
    throw new Error('internal detail at /srv/pigeon/src/secret.ts:42 password=hunter2');
  });
  app.get('/probe/public-url', async (request) => ({ url: publicBaseUrl(request, app.config) }));
  app.post(
    '/probe/validated',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: { name: { type: 'string', maxLength: 5 } },
        },
      },
    },
    async (request) => ({ got: request.body }),
  );
});

function assertNoLeak(t: Test, body: string) {
  for (const forbidden of [/stack/i, /select /i, /insert /i, /shop_settings/, /pkey/, /no_such_table/, /secret_column/, /\.ts:\d+/, /\/srv\//, /hunter2/, /node_modules/, /duplicate key/]) {
    t.notMatch(body, forbidden, `response does not contain ${forbidden}`);
  }
}

t.test('production errors carry no stack, SQL, constraint name or file path', async (t) => {
  for (const [url, status, code] of [
    ['/probe/db-error', 409, 'CONFLICT'],
    ['/probe/sql-error', 500, 'INTERNAL_ERROR'],
    ['/probe/crash', 500, 'INTERNAL_ERROR'],
  ] as const) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, status, url);
    const body = res.json();
    t.equal(body.error.code, code);
    t.equal(body.error.requestId, res.headers['x-request-id']);
    t.same(Object.keys(body.error).sort(), ['code', 'message', 'requestId']);
    assertNoLeak(t, res.body);
  }
});

t.test('validation errors name the failing fields; unknown properties are rejected', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/probe/validated', payload: { name: 'toolong', extra: 1 } });
  t.equal(res.statusCode, 400);
  const body = res.json();
  t.equal(body.error.code, 'VALIDATION_FAILED');
  const fields = body.error.details.map((d: { field: string }) => d.field).sort();
  t.same(fields, ['body.extra', 'body.name']);
});

t.test('malformed JSON, wrong media type and oversized bodies get clean answers', async (t) => {
  const bad = await app.inject({ method: 'POST', url: '/probe/validated', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.code, 'INVALID_JSON');
  const media = await app.inject({ method: 'POST', url: '/probe/validated', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
  t.equal(media.statusCode, 415);
  t.equal(media.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
  for (const [url, contentType, payload] of [
    ['/probe/validated', 'text/plain', '{"name":"x"}'],
    ['/probe/validated', 'text/plain; charset=utf-8', 'name=x'],
    ['/api/v1/auth/login', 'text/plain', '{"email":"a@example.test","password":"x"}'],
    ['/api/v1/auth/logout', 'text/plain', 'x'],
    ['/probe/validated', 'application/x-www-form-urlencoded', 'name=x'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
    t.equal(res.statusCode, 415, `${contentType} to ${url}: 415`);
    t.equal(res.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
  }
  const big = await app.inject({
    method: 'POST',
    url: '/probe/validated',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }),
  });
  t.equal(big.statusCode, 413);
  t.equal(big.json().error.code, 'PAYLOAD_TOO_LARGE');
});

t.test('unknown routes use the envelope and every response has X-Request-Id', async (t) => {
  const res = await app.inject({ url: '/nope' });
  t.equal(res.statusCode, 404);
  t.equal(res.json().error.code, 'NOT_FOUND');
  t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  const kept = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'client-req-12345' } });
  t.equal(kept.headers['x-request-id'], 'client-req-12345', 'a plain client id is kept');
  const replaced = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'bad id\nwith newline' } });
  t.not(replaced.headers['x-request-id'], 'bad id\nwith newline', 'an unsafe client id is replaced');
});

t.test('CORS: allowlisted origin only, exact match', async (t) => {
  const ok = await app.inject({ url: '/health/live', headers: { origin: 'https://app.pigeon.test' } });
  t.equal(ok.headers['access-control-allow-origin'], 'https://app.pigeon.test');
  t.equal(ok.headers['access-control-allow-credentials'], 'true');
  for (const origin of ['https://evil.test', 'https://evilapp.pigeon.test', 'https://app.pigeon.test.evil.test', 'null']) {
    const res = await app.inject({ url: '/health/live', headers: { origin } });
    t.equal(res.headers['access-control-allow-origin'], undefined, `${origin} gets no CORS headers`);
  }
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/health/live',
    headers: { origin: 'https://evil.test', 'access-control-request-method': 'POST' },
  });
  t.equal(preflight.headers['access-control-allow-origin'], undefined);
  t.match(rawLogs(), /CORS origin refused/, 'a refused origin is logged');
});

t.test('Shopify admin origins are allowed only when enabled, by an anchored pattern', async (t) => {
  const { app: shopifyApp } = await buildTestApp(t, db.apiDb, { ALLOW_SHOPIFY_ADMIN_ORIGINS: 'true' });
  for (const [origin, allowed] of [
    ['https://admin.shopify.com', true],
    ['https://my-store.myshopify.com', true],
    ['https://evil.com/.myshopify.com', false],
    ['https://my-store.myshopify.com.evil.com', false],
    ['http://my-store.myshopify.com', false],
    ['https://evilmyshopify.com', false],
  ] as const) {
    const res = await shopifyApp.inject({ url: '/health/live', headers: { origin } });
    t.equal(res.headers['access-control-allow-origin'], allowed ? origin : undefined, origin);
  }
  const res = await app.inject({ url: '/health/live', headers: { origin: 'https://admin.shopify.com' } });
  t.equal(res.headers['access-control-allow-origin'], undefined, 'off by default');
});

t.test('publicBaseUrl: a forged X-Forwarded-Host from an untrusted address changes nothing', async (t) => {
  const forged = await app.inject({
    url: '/probe/public-url',
    remoteAddress: '203.0.113.7',
    headers: { 'x-forwarded-host': 'shop-admin.pigeon.test', 'x-forwarded-proto': 'https' },
  });
  t.equal(forged.json().url, 'https://api.pigeon.test', 'untrusted peer: PUBLIC_BASE_URL');
  const evil = await app.inject({
    url: '/probe/public-url',
    remoteAddress: '10.0.0.1',
    headers: { 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https' },
  });
  t.equal(evil.json().url, 'https://api.pigeon.test', 'trusted proxy, host not allowlisted: PUBLIC_BASE_URL');
  const hostHeader = await app.inject({ url: '/probe/public-url', remoteAddress: '203.0.113.7', headers: { host: 'evil.test' } });
  t.equal(hostHeader.json().url, 'https://api.pigeon.test', 'a forged Host header changes nothing either');
  const good = await app.inject({
    url: '/probe/public-url',
    remoteAddress: '10.0.0.1',
    headers: { 'x-forwarded-host': 'shop-admin.pigeon.test', 'x-forwarded-proto': 'https' },
  });
  t.equal(good.json().url, 'https://shop-admin.pigeon.test', 'trusted proxy and allowlisted host');
});

t.test('security headers are strict for an API', async (t) => {
  const res = await app.inject({ url: '/health/live' });
  t.equal(res.headers['x-content-type-options'], 'nosniff');
  t.match(res.headers['content-security-policy'], /default-src 'none'/);
  t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/);
  t.match(res.headers['strict-transport-security'], /max-age=31536000/);
  t.equal(res.headers['x-powered-by'], undefined);
});

t.test('health: live, ready, and not ready when migrations are behind or the database is gone', async (t) => {
  t.same((await app.inject({ url: '/health/live' })).json(), { status: 'ok' });
  const ready = await app.inject({ url: '/health/ready' });
  t.equal(ready.statusCode, 200);
  t.equal(ready.json().status, 'ok');

  const { rows } = await db.admin.query('select max(id) as id from pigeon_migrations.applied');
  await db.admin.query('delete from pigeon_migrations.applied where id = $1', [rows[0].id]);
  const behind = await app.inject({ url: '/health/ready' });
  t.equal(behind.statusCode, 503);
  t.equal(behind.json().error.code, 'NOT_READY');
  await db.admin.query(`insert into pigeon_migrations.applied (id, name, checksum) values ($1, 'restored', 'x')`, [rows[0].id]);

  const deadPool = createPool({ connectionString: 'postgres://nobody:nothing@127.0.0.1:1/none', poolSize: 1, applicationName: 'dead' });
  const { app: deadApp } = await buildTestApp(t, createDb(deadPool));
  const down = await deadApp.inject({ url: '/health/ready' });
  t.equal(down.statusCode, 503);
  t.equal(down.headers['retry-after'], '5');
  t.equal((await deadApp.inject({ url: '/health/live' })).statusCode, 200, 'liveness does not depend on the database');
});

t.test('metrics: refused to others, served to allowed addresses and token holders', async (t) => {
  const refused = await app.inject({ url: '/metrics', remoteAddress: '203.0.113.7' });
  t.equal(refused.statusCode, 403);
  const wrongToken = await app.inject({ url: '/metrics', remoteAddress: '203.0.113.7', headers: { authorization: 'Bearer nope' } });
  t.equal(wrongToken.statusCode, 403);
  const byToken = await app.inject({
    url: '/metrics',
    remoteAddress: '203.0.113.7',
    headers: { authorization: `Bearer ${productionEnv.METRICS_TOKEN}` },
  });
  t.equal(byToken.statusCode, 200);
  t.match(byToken.body, /pigeon_http_request_duration_seconds_bucket\{.*route="\/health\/live".*\}/);
  t.match(byToken.body, /pigeon_rate_limit_refusals_total/);
  t.match(byToken.body, /pigeon_webhook_signature_failures_total/);
  t.match(byToken.body, /pigeon_job_outcomes_total/);
  const byAddress = await app.inject({ url: '/metrics', remoteAddress: '10.9.9.9' });
  t.equal(byAddress.statusCode, 200);
  // A spoofed X-Forwarded-For from an untrusted peer does not make it an allowed address.
  const spoofed = await app.inject({ url: '/metrics', remoteAddress: '203.0.113.7', headers: { 'x-forwarded-for': '10.9.9.9' } });
  t.equal(spoofed.statusCode, 403);
});

t.test('OpenAPI document and docs page', async (t) => {
  const doc = await app.inject({ url: '/docs/json' });
  t.equal(doc.statusCode, 200);
  const spec = doc.json();
  t.equal(spec.openapi, '3.0.3');
  t.ok(spec.paths['/health/live']);
  t.ok(spec.paths['/health/ready']);
  const page = await app.inject({ url: '/docs/' });
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /text\/html/);
});

t.test('logs are JSON and hold no authorization, cookie, token, email or phone', async (t) => {
  const { app: logged, rawLogs: logsOf } = await buildTestApp(t, db.apiDb, { LOG_LEVEL: 'trace' }, (a) => {
    a.post('/probe/echo-log', async (request) => {
      request.log.info({ body: request.body }, 'received');
      request.log.warn('contact jane.doe@example.com at +14155550123 failed');
      return { ok: true };
    });
  });
  await logged.inject({
    method: 'POST',
    url: '/probe/echo-log?token=abc',
    headers: {
      authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
      cookie: 'pigeon_access=super-secret-cookie',
    },
    payload: { email: 'jane.doe@example.com', phone: '+14155550123', password: 'hunter2hunter2', note: 'call 415-555-0123' },
  });
  const raw = logsOf();
  t.ok(raw.length > 0);
  for (const line of raw.split('\n').filter(Boolean)) JSON.parse(line);
  for (const secret of ['eyJhbGciOiJIUzI1NiJ9', 'super-secret-cookie', 'jane.doe@example.com', '+14155550123', '4155550123', 'hunter2hunter2', '415-555-0123', 'token=abc']) {
    t.notOk(raw.includes(secret), `logs do not contain ${secret}`);
  }
});

t.test('a path parameter over maxParamLength or a malformed URL: the envelope, no URL echoed', async (t) => {
  const marker = 'LONGPARAM'.repeat(20);
  for (const [url, status, code] of [
    [`/api/v1/contacts/${marker}`, 414, 'URI_TOO_LONG'],
    [`/api/v1/contacts/${marker}/consent`, 414, 'URI_TOO_LONG'],
    ['/api/v1/contacts/%E0%A4%ALONGPARAM', 400, 'BAD_REQUEST'],
  ] as const) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, status, url.slice(0, 40));
    const body = res.json();
    t.same(Object.keys(body), ['error']);
    t.same(Object.keys(body.error).sort(), ['code', 'message', 'requestId']);
    t.equal(body.error.code, code);
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/);
    t.equal(body.error.requestId, res.headers['x-request-id']);
    t.notMatch(res.body, /LONGPARAM|FST_ERR/, 'neither the URL nor a Fastify code is echoed');
  }
});
