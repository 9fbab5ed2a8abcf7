// GET /api/v1/me/security-events, as the attacks: another user's failures (in another shop,
// or in a shop both belong to), the shop's log leaking in, a tampered cursor.
import t from 'tap';
import type { LightMyRequestResponse } from 'fastify';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { addMember } from './helpers/fixtures.js';
import { bearer, logIn, signUp, TEST_PASSWORD, whoAmI } from './helpers/accounts.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', LOCKOUT_MAX_ATTEMPTS: '3' });
const PASSWORD = TEST_PASSWORD;
const login = (email: string, password: string) => logIn(app, email, password);
const events = (token: string, query = '') => app.inject({ url: `/api/v1/me/security-events${query}`, headers: bearer(token) });
const actions = (res: LightMyRequestResponse) => (res.json().items as Array<{ action: string; result: string }>).map((e) => `${e.action}:${e.result}`);

const a = await signUp(app);
const b = await signUp(app);
// A: three wrong passwords lock the account; B: two wrong passwords and a good sign-in.
for (let i = 0; i < 3; i++) await login(a.email, `wrong password ${i} for a`);
for (let i = 0; i < 2; i++) await login(b.email, `wrong password ${i} for b`);
if ((await login(b.email, PASSWORD)).statusCode !== 200) throw new Error('B could not sign in');
// Shop events of both shops, which a security-events list must never show.
await db.admin.query(`insert into app.audit_events (shop_id, user_id, action, result) values ($1, $2, 'contact.create', 'success'), ($3, $4, 'contact.create', 'success')`, [a.shopId, a.userId, b.shopId, b.userId]);

t.test("a user sees their own sign-in failures and lockout, newest first, and nobody else's", async (t) => {
  const mine = await events(a.accessToken);
  t.equal(mine.statusCode, 200);
  // The lockout and the failure that caused it share a transaction (and a timestamp).
  t.same(actions(mine).sort(), ['auth.lockout:denied', 'auth.login:failure', 'auth.login:failure', 'auth.login:failure']);
  const times = mine.json().items.map((e: { createdAt: string }) => e.createdAt);
  t.same(times, [...times].sort().reverse(), 'newest first');
  t.equal(mine.json().nextCursor, null);
  t.same(mine.json().items.find((e: { action: string }) => e.action === 'auth.login').metadata, { reason: 'bad_password' });
  t.same(mine.json().items.find((e: { action: string }) => e.action === 'auth.lockout').metadata, { minutes: 30 });
  const theirs = await events(b.accessToken);
  t.same(actions(theirs), ['auth.login:failure', 'auth.login:failure'], "B: their two failures; not the successful sign-in, not A's events");
  const ids = new Set(mine.json().items.map((e: { id: string }) => e.id));
  t.notOk(theirs.json().items.some((e: { id: string }) => ids.has(e.id)));
});

t.test('cross-shop: a user in two shops sees the same own events from either, never a co-member\'s', async (t) => {
  await addMember(db.admin, b.shopId, a.userId, 'member');
  const switched = await app.inject({ method: 'POST', url: `/api/v1/shops/${b.shopId}/switch`, headers: a.headers });
  t.equal(switched.statusCode, 200);
  const fromShopB = await events(switched.json().accessToken);
  t.same(actions(fromShopB).sort(), ['auth.lockout:denied', 'auth.login:failure', 'auth.login:failure', 'auth.login:failure'], "A in B's shop: still only A's events");
  t.same(actions(await events(b.accessToken)), ['auth.login:failure', 'auth.login:failure'], "B does not see A's events although A is now in B's shop");
});

t.test('refresh-token reuse and session revocations are listed', async (t) => {
  const c = await signUp(app);
  const first = c.refreshToken;
  const rotated = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: first } });
  t.equal(rotated.statusCode, 200);
  await db.admin.query(`update app.refresh_tokens set rotated_at = rotated_at - interval '5 seconds' where rotated_at is not null`);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: first } })).statusCode, 401, 'the stolen token replayed');
  const again = await login(c.email, PASSWORD);
  const second = await login(c.email, PASSWORD);
  const asAgain = bearer(again.json().accessToken);
  const sessions = (await app.inject({ url: '/api/v1/auth/sessions', headers: asAgain })).json().items as Array<{ id: string; current: boolean }>;
  const other = sessions.find((s) => !s.current)!;
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${other.id}`, headers: asAgain })).statusCode, 204, 'one session revoked');
  t.equal((await whoAmI(app, second.json().accessToken)).statusCode, 401, "it was the second sign-in's");
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: asAgain })).statusCode, 204, 'then all of them');
  const fresh = await login(c.email, PASSWORD);
  // The first refresh came from another address than the signup: audited too.
  t.same(actions(await events(fresh.json().accessToken)), ['auth.logout_all:success', 'auth.session_revoke:success', 'auth.refresh_reuse:denied', 'auth.refresh_fingerprint_changed:success']);
});

t.test('pages of 1–200 (default 50) that neither skip nor repeat; bad limits and cursors are 400', async (t) => {
  await db.admin.query(
    `insert into app.audit_events (shop_id, user_id, action, result, metadata, created_at)
       select null, $1, 'auth.login', 'failure', '{"reason":"bad_password"}', now() - interval '1 day' - (g || ' seconds')::interval from generate_series(1, 120) g`,
    [b.userId],
  );
  const all = await events(b.accessToken);
  t.equal(all.json().items.length, 50, 'default 50');
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const res: LightMyRequestResponse = await events(b.accessToken, `?limit=45${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(res.statusCode, 200);
    seen.push(...res.json().items.map((e: { id: string }) => e.id));
    cursor = res.json().nextCursor;
  } while (cursor);
  t.equal(seen.length, 122);
  t.equal(new Set(seen).size, 122, 'each event once');
  for (const query of ['?limit=0', '?limit=201', '?cursor=bm9wZQ', '?other=1']) t.equal((await events(b.accessToken, query)).statusCode, 400, query);
  t.equal((await app.inject({ url: '/api/v1/me/security-events' })).statusCode, 401, 'signed in only');
});

t.test('the database shows a shop-less event only to its own user', async (t) => {
  const client = await db.apiPool.connect();
  try {
    await client.query('begin');
    await client.query(`select set_config('app.user_id', $1, true)`, [b.userId]);
    const { rows } = await client.query(`select count(*)::int as n from app.audit_events where user_id = $1`, [a.userId]);
    t.equal(rows[0].n, 0, "as pigeon_api with B's user id: none of A's rows");
    const own = await client.query(`select count(*)::int as n from app.audit_events where user_id = $1`, [b.userId]);
    t.ok(own.rows[0].n > 0, "B's own shop-less rows");
    const shopRows = await client.query(`select count(*)::int as n from app.audit_events where shop_id is not null`);
    t.equal(shopRows.rows[0].n, 0, 'no shop rows without the shop set');
    await client.query('rollback');
  } finally {
    client.release();
  }
});

t.test('the route and its item schema are in the OpenAPI document', async (t) => {
  const spec = (await app.inject({ url: '/docs/json' })).json();
  const operation = spec.paths['/api/v1/me/security-events']?.get;
  t.ok(operation, 'documented');
  t.match(JSON.stringify(operation.responses['200']), /items/);
  t.match(JSON.stringify(spec.components), /auth\.refresh_reuse/, 'the item schema, with the actions it lists');
});
