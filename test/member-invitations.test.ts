// Invitations, as the attacks: finding out who has an account, accepting someone else's
// invitation, reusing one, an expired or revoked one, another shop's, a member inviting.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { bearer, signUp, type Account } from './helpers/accounts.js';
import { decryptString } from '../src/lib/key-ring.js';

const db = await createTestDatabase(t);
const testApp = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const { app } = testApp;
const account = () => signUp(app, { shopName: 'Own' });

/** The token the mailer would send: decrypted from the outbox copy, as the mailer does. */
async function mailedToken(shopId: string, invitationId: string): Promise<string> {
  const { rows } = await db.admin.query('select token_ciphertext from app.member_invitations where shop_id = $1 and id = $2', [shopId, invitationId]);
  return decryptString(app.keyRing, rows[0].token_ciphertext, `app.member_invitations.token:${shopId}:${invitationId}`);
}

const owner = await account();
const shop = owner.shopId;

async function invite(by: Account, email: string, role = 'member') {
  return app.inject({ method: 'POST', url: '/api/v1/members', headers: by.headers, payload: { email, role } });
}

function accept(as: Account, token: string) {
  return app.inject({ method: 'POST', url: '/api/v1/invitations/accept', headers: as.headers, payload: { token } });
}

t.test('an invitation looks the same whether or not the address has an account', async (t) => {
  const existing = await account();
  const a = await invite(owner, existing.email);
  const b = await invite(owner, `${randomUUID()}@example.test`);
  t.equal(a.statusCode, 201);
  t.equal(b.statusCode, 201);
  const shape = (body: Record<string, unknown>) => Object.keys(body).sort().join(',') + `|${body.status}|${body.role}`;
  t.equal(shape(a.json()), shape(b.json()));
  t.notOk(JSON.stringify(a.json()).includes(await mailedToken(shop, a.json().id)), 'the response carries no token');
});

t.test('the database holds the token only as a hash and a ciphertext', async (t) => {
  const res = await invite(owner, `${randomUUID()}@example.test`);
  const token = await mailedToken(shop, res.json().id);
  const { rows } = await db.admin.query(`select t::text as row from app.member_invitations t where id = $1`, [res.json().id]);
  t.notOk(rows[0].row.includes(token), 'no column holds the token in clear');
});

t.test('the invited account accepts once; the membership and its audit event exist', async (t) => {
  const invitee = await account();
  const res = await invite(owner, invitee.email.toUpperCase(), 'admin');
  const token = await mailedToken(shop, res.json().id);
  const ok = await accept(invitee, token);
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { shopId: shop, role: 'admin' });
  const { rows } = await db.admin.query('select role from app.memberships where shop_id = $1 and user_id = $2', [shop, invitee.userId]);
  t.same(rows, [{ role: 'admin' }]);
  const { rows: events } = await db.admin.query(`select action from app.audit_events where shop_id = $1 and action in ('member.invite', 'member.add') and (resource_id = $2 or resource_id = $3)`, [shop, res.json().id, invitee.userId]);
  t.same(events.map((e) => e.action).sort(), ['member.add', 'member.invite']);
  const again = await accept(invitee, token);
  t.equal(again.statusCode, 404, 'a used invitation is gone');
});

t.test("another account cannot accept someone else's invitation", async (t) => {
  const invitee = await account();
  const thief = await account();
  const res = await invite(owner, invitee.email);
  const token = await mailedToken(shop, res.json().id);
  const stolen = await accept(thief, token);
  t.equal(stolen.statusCode, 404);
  t.equal(stolen.json().error.code, 'INVITATION_NOT_FOUND', 'the same answer as an unknown token');
  const { rows } = await db.admin.query('select 1 from app.memberships where shop_id = $1 and user_id = $2', [shop, thief.userId]);
  t.equal(rows.length, 0);
  t.equal((await accept(invitee, token)).statusCode, 200, 'the failed attempt did not use it up');
});

t.test('expired, revoked, replaced and made-up tokens are refused', async (t) => {
  const invitee = await account();
  const first = await invite(owner, invitee.email);
  const firstToken = await mailedToken(shop, first.json().id);
  const second = await invite(owner, invitee.email);
  t.equal((await accept(invitee, firstToken)).statusCode, 404, 'a replaced invitation is dead');
  const secondToken = await mailedToken(shop, second.json().id);
  await db.admin.query(`update app.member_invitations set expires_at = now() - interval '1 second' where id = $1`, [second.json().id]);
  t.equal((await accept(invitee, secondToken)).statusCode, 404, 'expired');
  const third = await invite(owner, invitee.email);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/members/invitations/${third.json().id}`, headers: owner.headers })).statusCode, 204);
  t.equal((await accept(invitee, await mailedToken(shop, third.json().id))).statusCode, 404, 'revoked');
  t.equal((await accept(invitee, 'A'.repeat(43))).statusCode, 404, 'made up');
  t.equal((await accept(invitee, 'short')).statusCode, 400, 'not even token-shaped');
});

t.test('members cannot invite; admins cannot invite owners', async (t) => {
  const member = await account();
  const admin = await account();
  for (const [who, role] of [[member, 'member'], [admin, 'admin']] as const) {
    const res = await invite(owner, who.email, role);
    await accept(who, await mailedToken(shop, res.json().id));
  }
  const switchTo = async (a: Account) => {
    const res = await app.inject({ method: 'POST', url: `/api/v1/shops/${shop}/switch`, headers: a.headers });
    return { ...a, headers: bearer(res.json().accessToken) };
  };
  const asMember = await switchTo(member);
  const asAdmin = await switchTo(admin);
  t.equal((await invite(asMember, `${randomUUID()}@example.test`)).statusCode, 403);
  t.equal((await app.inject({ url: '/api/v1/members/invitations', headers: asMember.headers })).statusCode, 403);
  t.equal((await invite(asAdmin, `${randomUUID()}@example.test`, 'owner')).statusCode, 403);
  t.equal((await invite(asAdmin, `${randomUUID()}@example.test`, 'admin')).statusCode, 201);
  t.equal((await invite(asAdmin, member.email)).statusCode, 409, 'an existing member is not invited again');
});

t.test("another shop's invitations are invisible and untouchable", async (t) => {
  const other = await account();
  const res = await invite(other, `${randomUUID()}@example.test`);
  const list = await app.inject({ url: '/api/v1/members/invitations', headers: owner.headers });
  t.notOk(list.json().items.some((i: { id: string }) => i.id === res.json().id));
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/members/invitations/${res.json().id}`, headers: owner.headers })).statusCode, 404);
  const { rows } = await db.admin.query('select revoked_at from app.member_invitations where id = $1', [res.json().id]);
  t.equal(rows[0].revoked_at, null);
});

t.test('the logs hold no invitation token and no e-mail address', async (t) => {
  const email = `${randomUUID()}@example.test`;
  const res = await invite(owner, email);
  const token = await mailedToken(shop, res.json().id);
  await accept(owner, token);
  const raw = testApp.rawLogs();
  t.notOk(raw.includes(token));
  t.notOk(raw.includes(email));
});
