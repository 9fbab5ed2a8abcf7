// Staff management, as the attacks: members acting as admins, admins removing owners, the
// last owner leaving, another shop's ids.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { bearer, logIn, signUp, TEST_PASSWORD, whoAmI, type Account } from './helpers/accounts.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const account = () => signUp(app, { shopName: 'Own' });

/** A token for the account's session acting in `shopId` (what switching shops will issue). */
function tokenFor(a: Account, shopId: string, role: string): string {
  return app.jwt.sign({ sub: a.userId, sid: a.sessionId, shop: shopId, role: role as 'owner', typ: 'access' });
}

const owner = await account();
const admin = await account();
const member = await account();
const outsider = await account();
const shop = owner.shopId;
await db.admin.query(`insert into app.memberships (shop_id, user_id, role) values ($1, $2, 'admin'), ($1, $3, 'member')`, [shop, admin.userId, member.userId]);
const asOwner = bearer(tokenFor(owner, shop, 'owner'));
const asAdmin = bearer(tokenFor(admin, shop, 'admin'));
// The claim says owner; the membership says member. The membership wins.
const asMember = bearer(tokenFor(member, shop, 'owner'));

t.test('everyone on the staff can list it', async (t) => {
  const res = await app.inject({ url: '/api/v1/members', headers: asMember });
  t.equal(res.statusCode, 200);
  t.same(res.json().items.map((m: { role: string }) => m.role).sort(), ['admin', 'member', 'owner']);
});

t.test('a member cannot manage members, whatever the token claims', async (t) => {
  for (const [method, url, payload] of [
    ['PATCH', `/api/v1/members/${admin.userId}`, { role: 'member' }],
    ['DELETE', `/api/v1/members/${admin.userId}`, undefined],
    ['POST', `/api/v1/members/${admin.userId}/unlock`, undefined],
  ] as const) {
    const res = await app.inject({ method, url, headers: asMember, ...(payload ? { payload } : {}) });
    t.equal(res.statusCode, 403, `${method} ${url}`);
  }
});

t.test('admins cannot remove owners or grant ownership', async (t) => {
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/members/${owner.userId}`, headers: asAdmin })).statusCode, 403);
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/members/${member.userId}`, headers: asAdmin, payload: { role: 'owner' } })).statusCode, 403);
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/members/${owner.userId}`, headers: asAdmin, payload: { role: 'member' } })).statusCode, 403);
});

t.test('the last owner can be neither demoted nor removed', async (t) => {
  const demote = await app.inject({ method: 'PATCH', url: `/api/v1/members/${owner.userId}`, headers: asOwner, payload: { role: 'admin' } });
  t.equal(demote.statusCode, 409);
  t.equal(demote.json().error.code, 'LAST_OWNER');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/members/${owner.userId}`, headers: asOwner })).statusCode, 409);
  // With a second owner, the first may step down.
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/members/${admin.userId}`, headers: asOwner, payload: { role: 'owner' } })).statusCode, 200);
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/members/${admin.userId}`, headers: asOwner, payload: { role: 'admin' } })).statusCode, 200);
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where shop_id = $1 and action = 'member.role_change'`, [shop]);
  t.equal(rows[0].n, 2, 'role changes are audited');
});

t.test("another shop's user is 404, and unlock works only for this shop's members", async (t) => {
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/members/${outsider.userId}`, headers: asOwner })).statusCode, 404);
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/members/${outsider.userId}`, headers: asOwner, payload: { role: 'member' } })).statusCode, 404);
  await db.admin.query(`update app.users set failed_login_count = 5, locked_until = now() + interval '30 minutes' where id in ($1, $2)`, [member.userId, outsider.userId]);
  const foreign = await app.inject({ method: 'POST', url: `/api/v1/members/${outsider.userId}/unlock`, headers: asAdmin });
  t.equal(foreign.statusCode, 404);
  const { rows: still } = await db.admin.query(`select locked_until is not null as locked from app.users where id = $1`, [outsider.userId]);
  t.same(still, [{ locked: true }], "the outsider's lock stays");
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/members/${member.userId}/unlock`, headers: asAdmin })).statusCode, 204);
  const login = await logIn(app, member.email, TEST_PASSWORD);
  t.equal(login.statusCode, 200, 'the unlocked member can sign in');
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where shop_id = $1 and action = 'auth.unlock'`, [shop]);
  t.equal(rows[0].n, 1);
});

t.test('an owner removes a member, and that membership is gone', async (t) => {
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/members/${member.userId}`, headers: asOwner })).statusCode, 204);
  t.equal((await app.inject({ url: '/api/v1/members', headers: asMember })).statusCode, 401, "the removed member's token for this shop no longer works");
});

t.test("switching shops: new tokens for a shop you belong to; another shop's id is 404", async (t) => {
  const twoShops = await account();
  await db.admin.query(`insert into app.memberships (shop_id, user_id, role) values ($1, $2, 'member')`, [shop, twoShops.userId]);
  const own = bearer(tokenFor(twoShops, twoShops.shopId, 'owner'));
  const switched = await app.inject({ method: 'POST', url: `/api/v1/shops/${shop}/switch`, headers: own });
  t.equal(switched.statusCode, 200);
  t.equal(switched.json().shop.id, shop);
  t.equal(switched.json().role, 'member');
  const me = await whoAmI(app, switched.json().accessToken);
  t.same([me.json().shop.id, me.json().role], [shop, 'member']);
  const foreign = await app.inject({ method: 'POST', url: `/api/v1/shops/${outsider.shopId}/switch`, headers: own });
  t.equal(foreign.statusCode, 404, 'a shop you do not belong to looks like no shop');
  const missing = await app.inject({ method: 'POST', url: `/api/v1/shops/${randomUUID()}/switch`, headers: own });
  t.equal(missing.statusCode, 404);
  // Reading the other shop's data with the switched token: the members list is this shop's.
  const staff = await app.inject({ url: '/api/v1/members', headers: bearer(switched.json().accessToken) });
  t.ok(staff.json().items.some((m: { userId: string }) => m.userId === owner.userId));
});
