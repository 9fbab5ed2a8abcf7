// Request bodies as attacks: JSON nested deep enough to overflow whatever walks it (the
// Idempotency-Key hash did), and bodies sent to routes that take none.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../src/plugins/request-bodies.js';
import { requestHash } from '../src/plugins/idempotency-store.js';
import { AppError } from '../src/lib/app-error.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, (app) => {
  app.post('/api/v1/probe/echo', { schema: { body: { type: 'object' } } }, async (request) => ({ got: request.body }));
});

const { headers } = await signUp(app);
const deepArray = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

t.test('a 20,000-deep JSON array with an Idempotency-Key is refused cleanly, not a stack overflow', async (t) => {
  const campaign = await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers, payload: { name: 'Deep', body: 'Hello' } });
  t.equal(campaign.statusCode, 201);
  // enqueue takes no body: the 40 KB array is over its limit before anything parses it.
  const enqueue = await app.inject({
    method: 'POST',
    url: `/api/v1/campaigns/${campaign.json().id}/enqueue`,
    headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    payload: deepArray(20_000),
  });
  t.equal(enqueue.statusCode, 413, 'enqueue: over the no-body limit');
  t.equal(enqueue.json().error.code, 'PAYLOAD_TOO_LARGE');
  t.equal(enqueue.json().error.requestId, enqueue.headers['x-request-id']);
  const { rows } = await db.admin.query(`select status from app.campaigns where id = $1`, [campaign.json().id]);
  t.equal(rows[0].status, 'draft', 'nothing was enqueued');
  // A route that takes a body and honours Idempotency-Key: the depth check answers.
  for (const [label, payload] of [
    ['array', deepArray(20_000)],
    ['object', '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000)],
  ] as const) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/contacts',
      headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      payload,
    });
    t.equal(res.statusCode, 400, `${label}: 400`);
    t.equal(res.json().error.code, 'BODY_TOO_DEEP', `${label}: BODY_TOO_DEEP`);
  }
  const { rows: keys } = await db.admin.query(`select count(*)::int as n from app.idempotency_keys`);
  t.equal(keys[0].n, 0, 'no key was claimed for a refused body');
});

t.test('depth is counted outside strings, and bodies within the limit pass', async (t) => {
  t.notOk(jsonDepthExceeds(JSON.stringify({ text: '[[[[[[[[[[{{{{{{{{{{'.repeat(100), quote: 'a\\"[' }), 3), 'brackets in strings do not count');
  t.ok(jsonDepthExceeds(deepArray(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH));
  t.notOk(jsonDepthExceeds(deepArray(MAX_JSON_DEPTH), MAX_JSON_DEPTH));
  const nested = JSON.parse('{"a":'.repeat(MAX_JSON_DEPTH - 1) + '{}' + '}'.repeat(MAX_JSON_DEPTH - 1));
  const ok = await app.inject({ method: 'POST', url: '/api/v1/probe/echo', headers, payload: nested });
  t.equal(ok.statusCode, 200, `${MAX_JSON_DEPTH} levels are accepted`);
  t.same(ok.json().got, nested);
});

t.test('the Idempotency-Key hash refuses an over-deep value whoever hands it one', async (t) => {
  let value: unknown = 1;
  for (let i = 0; i < 20_000; i++) value = [value];
  let thrown: unknown;
  try {
    requestHash({ method: 'POST', route: '/x', params: {}, body: value });
  } catch (error) {
    thrown = error;
  }
  t.ok(thrown instanceof AppError, 'an AppError, not a RangeError');
  t.equal((thrown as AppError).statusCode, 400);
});

t.test('a route that takes no body refuses one: a schema (null or {}) and a small size limit', async (t) => {
  const campaign = (await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers, payload: { name: 'No body', body: 'Hello' } })).json();
  const withBody = await app.inject({ method: 'POST', url: `/api/v1/campaigns/${campaign.id}/cancel`, headers, payload: { anything: 'at all' } });
  t.equal(withBody.statusCode, 400);
  t.equal(withBody.json().error.code, 'VALIDATION_FAILED');
  const big = await app.inject({
    method: 'POST',
    url: `/api/v1/campaigns/${campaign.id}/estimate`,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: `{}${' '.repeat(4096)}`,
  });
  t.equal(big.statusCode, 413, 'over the no-body limit');
  for (const payload of [undefined, '{}', 'null']) {
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/campaigns/${campaign.id}/estimate`,
      headers: payload === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(payload === undefined ? {} : { payload }),
    });
    t.equal(res.statusCode, 200, `estimate with ${payload ?? 'no body'}`);
  }
});

t.test('every route with a body method declares a body (OpenAPI), except uploads and signed webhooks', async (t) => {
  const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  const missing: string[] = [];
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!['post', 'put', 'patch', 'delete'].includes(method) || operation.requestBody) continue;
      if (path === '/api/v1/contacts/imports' || path.startsWith('/webhooks/')) continue;
      missing.push(`${method.toUpperCase()} ${path}`);
    }
  }
  t.same(missing, [], 'no route takes an unvalidated body');
});
