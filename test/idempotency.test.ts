// Idempotency-Key, as the failures it exists for: a client retrying after a lost response,
// a client reusing a key for another request, two retries racing, a server error, a
// request that died holding its claim, and one shop's key colliding with another's.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp, type Account } from './helpers/accounts.js';
import { requireAuth } from '../src/plugins/auth.js';
import idempotencySweep from '../tasks/idempotency_sweep.js';
import { setWorkerDb } from '../src/worker-context.js';

const db = await createTestDatabase(t);
let runs = 0;
let failNext = false;
/**
 * A barrier for the race test: a request whose body names 'held' enters the handler (its key
 * is claimed by then: claims are preHandlers), reports it, and waits for the test to release it.
 */
let held: { entered: () => void; release: Promise<void> } | null = null;
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, (app: FastifyInstance) => {
  app.post(
    '/api/v1/test/things',
    {
      preHandler: requireAuth,
      config: { idempotent: true },
      schema: { body: Type.Object({ name: Type.String(), note: Type.Optional(Type.String()) }, { additionalProperties: false }) },
    },
    async (request, reply) => {
      const body = request.body as { name: string; note?: string };
      runs++;
      if (body.name === 'held' && held) {
        held.entered();
        await held.release;
      }
      if (failNext) {
        failNext = false;
        throw new Error('boom');
      }
      if (body.name === 'conflict') return reply.code(409).send({ error: { code: 'CONFLICT', message: 'no', requestId: String(request.id) } });
      return reply.code(201).send({ id: randomUUID(), name: body.name, run: runs });
    },
  );
});

const a = await signUp(app);
const b = await signUp(app);

function post(who: Account, key: string | undefined, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/api/v1/test/things', headers: { ...who.headers, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload });
}

t.test('a retry with the same key and body gets the stored response, and the work ran once', async (t) => {
  const key = randomUUID();
  const before = runs;
  const first = await post(a, key, { name: 'x' });
  const retry = await post(a, key, { name: 'x' });
  t.equal(first.statusCode, 201);
  t.equal(retry.statusCode, 201);
  t.equal(retry.body, first.body, 'byte for byte');
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.equal(first.headers['idempotent-replayed'], undefined);
  t.match(retry.headers['content-type'], /application\/json/);
  t.equal(runs - before, 1);
});

t.test('the same body with keys in another order is the same request', async (t) => {
  const key = randomUUID();
  await post(a, key, { name: 'y', note: 'n' });
  const res = await app.inject({ method: 'POST', url: '/api/v1/test/things', headers: { ...a.headers, 'idempotency-key': key, 'content-type': 'application/json' }, payload: '{"note":"n","name":"y"}' });
  t.equal(res.headers['idempotent-replayed'], 'true');
});

t.test('the same key with another body is 422 and runs nothing', async (t) => {
  const key = randomUUID();
  await post(a, key, { name: 'one' });
  const before = runs;
  const res = await post(a, key, { name: 'two' });
  t.equal(res.statusCode, 422);
  t.equal(res.json().error.code, 'IDEMPOTENCY_KEY_REUSED');
  t.equal(runs, before);
});

t.test('the same key while the first request runs is 409', async (t) => {
  const key = randomUUID();
  // No sleeps: the first request is held inside its handler until the test has seen its
  // claim in the database and sent the racing request.
  let entered!: () => void;
  const inHandler = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  held = { entered, release: new Promise<void>((resolve) => (release = resolve)) };
  t.teardown(() => {
    release();
    held = null;
  });
  const first = post(a, key, { name: 'held' });
  await inHandler;
  const { rows } = await db.admin.query(`select state from app.idempotency_keys where key = $1`, [key]);
  t.same(rows, [{ state: 'running' }], 'the first request holds its claim');
  const racing = await post(a, key, { name: 'held' });
  t.equal(racing.statusCode, 409);
  t.equal(racing.json().error.code, 'IDEMPOTENCY_KEY_IN_USE');
  t.equal(racing.headers['retry-after'], '1');
  release();
  t.equal((await first).statusCode, 201);
  t.equal((await post(a, key, { name: 'held' })).headers['idempotent-replayed'], 'true', 'afterwards: the replay');
});

t.test('a server error releases the key; a client error is kept and replayed', async (t) => {
  const key = randomUUID();
  failNext = true;
  t.equal((await post(a, key, { name: 'z' })).statusCode, 500);
  const before = runs;
  const retry = await post(a, key, { name: 'z' });
  t.equal(retry.statusCode, 201, 'the retry ran');
  t.equal(runs - before, 1);
  const conflictKey = randomUUID();
  t.equal((await post(a, conflictKey, { name: 'conflict' })).statusCode, 409);
  const replayed = await post(a, conflictKey, { name: 'conflict' });
  t.equal(replayed.statusCode, 409);
  t.equal(replayed.headers['idempotent-replayed'], 'true');
});

t.test('a claim left by a request that died is taken over after its lock', async (t) => {
  const key = randomUUID();
  const hashOf = await post(a, key, { name: 'dead' });
  t.equal(hashOf.statusCode, 201);
  // As if the process died after claiming: back to running, lock lapsed.
  await db.admin.query(`update app.idempotency_keys set state = 'running', response_status = null, response_body = null, locked_until = now() - interval '1 second' where key = $1`, [key]);
  const before = runs;
  const retry = await post(a, key, { name: 'dead' });
  t.equal(retry.statusCode, 201);
  t.equal(runs - before, 1);
  await db.admin.query(`update app.idempotency_keys set state = 'running', locked_until = now() + interval '1 minute' where key = $1`, [key]);
  t.equal((await post(a, key, { name: 'dead' })).statusCode, 409, 'a live claim is not taken over');
});

t.test('keys are per shop: the same key in another shop is another request', async (t) => {
  const key = randomUUID();
  const fromA = await post(a, key, { name: 'shared' });
  const fromB = await post(b, key, { name: 'shared' });
  t.equal(fromB.statusCode, 201);
  t.equal(fromB.headers['idempotent-replayed'], undefined, "B never sees A's stored response");
  t.not(fromB.json().id, fromA.json().id);
  const { rows } = await db.apiPool.query(`select count(*)::int as n from app.idempotency_keys where key = $1`, [key]);
  t.equal(rows[0].n, 0, 'with no shop set, the API role sees no key at all');
});

t.test('a malformed key is 400; no key means no idempotency', async (t) => {
  t.equal((await post(a, 'x'.repeat(256), { name: 'q' })).statusCode, 400);
  t.equal((await post(a, 'has space', { name: 'q' })).statusCode, 400);
  const before = runs;
  await post(a, undefined, { name: 'q' });
  await post(a, undefined, { name: 'q' });
  t.equal(runs - before, 2);
});

t.test('an invitation retried with its key is created once', async (t) => {
  const key = randomUUID();
  const email = `${randomUUID()}@example.test`;
  const send = () => app.inject({ method: 'POST', url: '/api/v1/members', headers: { ...a.headers, 'idempotency-key': key }, payload: { email, role: 'member' } });
  const first = await send();
  const second = await send();
  t.equal(second.json().id, first.json().id);
  const { rows } = await db.admin.query('select count(*)::int as n from app.member_invitations where email = $1', [email]);
  t.equal(rows[0].n, 1);
});

t.test('the OpenAPI document names the header on routes that honour it', async (t) => {
  const doc = (await app.inject({ url: '/docs/json' })).json();
  const params = doc.paths['/api/v1/members'].post.parameters as Array<{ name: string; in: string }>;
  t.ok(params.some((p) => p.in === 'header' && p.name === 'idempotency-key'));
});

t.test('the sweep removes expired keys, runs as the worker only', async (t) => {
  const key = randomUUID();
  await post(a, key, { name: 'old' });
  await db.admin.query(`update app.idempotency_keys set expires_at = now() - interval '1 second' where key = $1`, [key]);
  await t.rejects(db.apiPool.query('select app_private.idempotency_sweep()'), { code: '42501' }, 'the API cannot sweep');
  setWorkerDb(db.workerDb);
  t.teardown(() => setWorkerDb(undefined));
  await idempotencySweep({}, { logger: { info() {} } } as never);
  const { rows } = await db.admin.query('select count(*)::int as n from app.idempotency_keys where key = $1', [key]);
  t.equal(rows[0].n, 0);
});
