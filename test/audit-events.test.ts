// The audit log route: owners and admins only, their own shop only, cursor pages that
// neither skip nor repeat.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { addMember, createUser } from './helpers/fixtures.js';
import { bearer, signUp } from './helpers/accounts.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const list = (token: string, query = '') => app.inject({ url: `/api/v1/audit-events${query}`, headers: bearer(token) });

const owner = await signUp(app);
const other = await signUp(app);
// Give the owner's shop a run of events to page through.
await db.admin.query(
  `insert into app.audit_events (shop_id, action, result, created_at)
     select $1, 'test.event', 'success', now() - (g || ' seconds')::interval from generate_series(1, 120) g`,
  [owner.shopId],
);

t.test('an owner pages through their shop log, each event exactly once, newest first', async (t) => {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await list(owner.accessToken, `?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
    t.equal(res.statusCode, 200);
    const body = res.json();
    seen.push(...body.items.map((e: { id: string }) => e.id));
    cursor = body.nextCursor;
    pages++;
  } while (cursor && pages < 10);
  const { rows } = await db.admin.query(`select id from app.audit_events where shop_id = $1 order by created_at desc, id desc`, [owner.shopId]);
  t.same(seen, rows.map((r) => r.id), 'every event once, in order');
  t.equal(pages, 3);
});

t.test('events within one millisecond are neither skipped nor repeated', async (t) => {
  const fresh = await signUp(app);
  await db.admin.query(
    `insert into app.audit_events (shop_id, action, result, created_at)
       select $1, 'tick.event', 'success', timestamptz '2026-01-01 00:00:00.123456+00' - (g || ' microseconds')::interval from generate_series(1, 5) g`,
    [fresh.shopId],
  );
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10; i++) {
    const body: { items: Array<{ id: string }>; nextCursor: string | null } = (await list(fresh.accessToken, `?action=tick.event&limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json();
    seen.push(...body.items.map((e: { id: string }) => e.id));
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  t.equal(seen.length, 5);
  t.equal(new Set(seen).size, 5);
});

t.test("no other shop's events, and filters by action", async (t) => {
  const res = await list(other.accessToken, '?limit=200');
  const actions = res.json().items.map((e: { action: string }) => e.action);
  t.notOk(actions.includes('test.event'), "shop B sees none of shop A's events");
  const signups = await list(owner.accessToken, '?action=auth.signup');
  t.same(signups.json().items.map((e: { action: string }) => e.action), ['auth.signup']);
});

t.test('members cannot read the audit log; unknown parameters and bad cursors are refused', async (t) => {
  const memberId = await createUser(db.admin, `${randomUUID()}@example.test`);
  await addMember(db.admin, owner.shopId, memberId, 'member');
  // A member's token: sign in is not possible without a password, so switch the owner's
  // role instead; the role is read from the membership on every request.
  await db.admin.query(`update app.memberships set role = 'member' where shop_id = $1 and user_id = $2`, [owner.shopId, owner.userId]);
  const denied = await list(owner.accessToken);
  t.equal(denied.statusCode, 403, 'a demotion takes effect at once, without a new token');
  t.equal(denied.json().error.code, 'FORBIDDEN');
  await db.admin.query(`update app.memberships set role = 'owner' where shop_id = $1 and user_id = $2`, [owner.shopId, owner.userId]);
  t.equal((await list(owner.accessToken, '?shopId=x')).statusCode, 400, 'unknown query parameter');
  t.equal((await list(owner.accessToken, '?cursor=not-a-cursor')).json().error.code, 'INVALID_CURSOR');
  t.equal((await list(owner.accessToken, '?limit=500')).statusCode, 400);
  t.equal((await app.inject({ url: '/api/v1/audit-events' })).statusCode, 401);
});
