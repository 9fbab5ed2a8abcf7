// The data request, as what it must not miss or leak: the inbound texts the sms-webhooks
// module holds, an audit row for every look (by a user or by the system, as a Shopify
// customers/data_request webhook will ask), another shop's contact.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { SMS_SECRET } from './helpers/campaign-fixtures.js';
import { withShop } from '../src/db/with-shop.js';
import { systemActor } from '../src/lib/actor.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';
import { contactDataRequest } from '../src/modules/privacy/data-request.js';
import { assignSenderNumber } from '../src/modules/sender-numbers/service.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET });

async function inbound(from: string, to: string, text: string) {
  const body = JSON.stringify({ eventId: randomUUID(), from, to, text });
  return app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...signSmsWebhook(body, SMS_SECRET) }, payload: body });
}

const shop = await signUp(app);
const other = await signUp(app);
const number = '+16505550101';
await withShop(db.workerDb, shop.shopId, (tx) => assignSenderNumber(tx, shop.shopId, { number, quarantineDays: 30 }));
const phone = '+14155550123';
const contact = (await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: shop.headers, payload: { phone, consent: 'subscribed' } })).json();

t.test('the answer lists the contact’s inbound texts, oldest first', async (t) => {
  t.equal((await inbound(phone, number, 'HELP')).statusCode, 200);
  t.equal((await inbound(phone, number, 'STOP')).statusCode, 200);
  const res = await app.inject({ url: `/api/v1/contacts/${contact.id}/data`, headers: shop.headers });
  t.equal(res.statusCode, 200);
  t.same(res.json().inboundMessages.map((m: { keyword: string }) => m.keyword), ['help', 'stop']);
  t.ok(res.json().inboundMessages.every((m: { receivedAt: string }) => !Number.isNaN(Date.parse(m.receivedAt))), 'with when they came');
  t.same(res.json().consentHistory.map((e: { state: string }) => e.state), ['subscribed', 'unsubscribed'], 'and the STOP in the consent history');
});

t.test('the system asks through the same function; each look is audited, naming the user when there is one', async (t) => {
  const fromApi = (await app.inject({ url: `/api/v1/contacts/${contact.id}/data`, headers: shop.headers })).json();
  const bySystem = await withShop(db.apiDb, shop.shopId, (tx) => contactDataRequest(tx, systemActor(shop.shopId), contact.id));
  t.same(JSON.parse(JSON.stringify(bySystem)), fromApi, 'the same answer as the route');
  const { rows } = await db.admin.query(
    `select user_id from app.audit_events where shop_id = $1 and action = 'contact.data_request' and resource_id = $2 order by created_at desc, id desc limit 2`,
    [shop.shopId, contact.id],
  );
  t.same(rows, [{ user_id: null }, { user_id: shop.userId }], 'the system look names no user; the API look names the user');
});

t.test("another shop's contact is not found, for a user or the system", async (t) => {
  const res = await app.inject({ url: `/api/v1/contacts/${contact.id}/data`, headers: other.headers });
  t.equal(res.statusCode, 404);
  await t.rejects(
    withShop(db.apiDb, other.shopId, (tx) => contactDataRequest(tx, systemActor(other.shopId), contact.id)),
    { statusCode: 404, code: 'NOT_FOUND' },
  );
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where shop_id = $1 and action = 'contact.data_request'`, [other.shopId]);
  t.equal(rows[0].n, 0, 'a refused request records no look');
});
