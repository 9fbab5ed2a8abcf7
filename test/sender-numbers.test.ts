// Sender numbers and opt-outs, as the ways a STOP was lost: replies to a number no shop
// declared, one shop claiming the global number and receiving every shop's opt-outs, a
// shop self-declaring a number, a number released and reassigned at once, a STOP from a
// phone that is not a contact yet, a text to a number nobody holds.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { fakeProviderFor, openShop, SMS_SECRET, type Shop } from './helpers/campaign-fixtures.js';
import { buyCredits } from './helpers/ledger.js';
import { assignNumberCommand, releaseNumberCommand, parseNumberArgs } from '../src/modules/sender-numbers/operator.js';
import { dispatchCampaign } from '../src/modules/campaigns/dispatch.js';
import { sendBatch } from '../src/modules/campaigns/send.js';
import { processImport } from '../src/modules/imports/process.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET });
const { fake, sms } = await fakeProviderFor(t);

let seq = 0;
const shop = () => openShop(app);
const freshNumber = () => `+1312555${String(++seq).padStart(4, '0')}`;
const assign = (shopId: string, number: string) => assignNumberCommand(db.workerDb, () => sms, parseNumberArgs(['--shop', shopId, '--number', number]), 30);
const release = (shopId: string, number: string, quarantineDays = 30, extra: string[] = []) =>
  releaseNumberCommand(db.workerDb, () => sms, parseNumberArgs(['--shop', shopId, '--number', number, ...extra]), quarantineDays);
async function inbound(from: string, to: string, text: string, eventId = randomUUID()) {
  const body = JSON.stringify({ eventId, from, to, text });
  return app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...signSmsWebhook(body, SMS_SECRET) }, payload: body });
}
const contact = (s: Shop, phone: string, consent = 'subscribed') => app.inject({ method: 'POST', url: '/api/v1/contacts', headers: s.headers, payload: { phone, consent } });
const consentOf = async (s: Shop, id: string) => (await app.inject({ url: `/api/v1/contacts/${id}`, headers: s.headers })).json().consent;

t.test('a shop cannot declare a number; an operator assigns it and the shop reads it', async (t) => {
  const s = await shop();
  const declared = await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: s.headers, payload: { smsNumber: '+15005550006' } });
  t.equal(declared.statusCode, 400, 'the old self-declared setting is refused');
  const put = await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: s.headers, payload: { senderNumbers: ['+15005550006'] } });
  t.equal(put.statusCode, 400, 'sender numbers are read-only in settings');
  const number = freshNumber();
  const assigned = await assign(s.shopId, number);
  t.match(assigned, { number, alreadyAssigned: false });
  t.match(await assign(s.shopId, number), { alreadyAssigned: true }, 'assigning again is a no-op');
  const list = await app.inject({ url: '/api/v1/sender-numbers', headers: s.headers });
  t.equal(list.statusCode, 200);
  t.match(list.json().items, [{ number, status: 'active', releasedAt: null }]);
  t.same((await app.inject({ url: '/api/v1/settings', headers: s.headers })).json().senderNumbers, [number]);
  const { rows } = await db.admin.query(`select action, metadata->>'number' as number from app.audit_events where shop_id = $1 and action like 'sender_number.%'`, [s.shopId]);
  t.same(rows, [{ action: 'sender_number.assign', number }], 'audited once');
  const other = await shop();
  t.same((await app.inject({ url: '/api/v1/sender-numbers', headers: other.headers })).json().items, [], "another shop does not see this shop's numbers");
  await t.rejects(assign(other.shopId, number), /assigned to another shop/, 'a held number is not given to a second shop');
});

t.test('enqueue without an active number is 409 NO_SENDER_NUMBER and changes nothing', async (t) => {
  const s = await shop();
  await contact(s, `+1415555${String(++seq).padStart(4, '0')}`);
  await buyCredits(db, s.shopId, 10);
  const id = (await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: s.headers, payload: { name: 'x', body: 'hello' } })).json().id;
  const res = await app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/enqueue`, headers: s.headers });
  t.equal(res.statusCode, 409);
  t.equal(res.json().error.code, 'NO_SENDER_NUMBER');
  t.equal((await app.inject({ url: `/api/v1/campaigns/${id}`, headers: s.headers })).json().status, 'draft');
  t.same((await app.inject({ url: '/api/v1/wallet', headers: s.headers })).json(), { balance: 10, reserved: 0, available: 10 });
});

t.test('every message goes out from its shop’s number and records it', async (t) => {
  const s = await shop();
  const number = freshNumber();
  await assign(s.shopId, number);
  await contact(s, `+1415555${String(++seq).padStart(4, '0')}`);
  await buyCredits(db, s.shopId, 10);
  const id = (await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: s.headers, payload: { name: 'x', body: 'hello' } })).json().id;
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/enqueue`, headers: s.headers })).statusCode, 200);
  await dispatchCampaign(db.workerDb, s.shopId, id);
  const { rows: batches } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1`, [id]);
  await sendBatch(db.workerDb, sms, s.shopId, id, batches[0].id, { concurrency: 2 });
  const { rows } = await db.admin.query(`select provider_message_id, from_number from app.messages where campaign_id = $1`, [id]);
  t.equal(rows[0].from_number, number, 'the message row records its sender');
  t.equal(fake.messages.get(rows[0].provider_message_id)?.from, number, 'the provider was asked to send from it');
});

t.test('a STOP reaches the shop whose number received it, and only that shop', async (t) => {
  const a = await shop();
  const b = await shop();
  const numberA = freshNumber();
  const numberB = freshNumber();
  await assign(a.shopId, numberA);
  await assign(b.shopId, numberB);
  const phone = `+1415555${String(++seq).padStart(4, '0')}`;
  const inA = (await contact(a, phone)).json().id;
  const inB = (await contact(b, phone)).json().id;
  t.equal((await inbound(phone, numberA, 'STOP')).statusCode, 200);
  t.equal(await consentOf(a, inA), 'unsubscribed', 'the shop that texted them lost the contact');
  t.equal(await consentOf(b, inB), 'subscribed', "another shop's contact with the same phone is untouched");
  t.equal((await inbound(phone, numberB, ' Stop ')).statusCode, 200);
  t.equal(await consentOf(b, inB), 'unsubscribed');
  t.equal((await inbound(phone, numberA, 'START')).statusCode, 200);
  t.equal(await consentOf(a, inA), 'subscribed');
  t.equal(await consentOf(b, inB), 'unsubscribed', "a START to A does not resubscribe B's contact");
});

t.test('a STOP from a phone that is not a contact suppresses it for every way of creating one', async (t) => {
  const s = await shop();
  const number = freshNumber();
  await assign(s.shopId, number);
  const phone = `+1415555${String(++seq).padStart(4, '0')}`;
  const phone2 = `+1415555${String(++seq).padStart(4, '0')}`;
  t.equal((await inbound(phone, number, 'STOP')).statusCode, 200);
  t.equal((await inbound(phone2, number, 'unsubscribe')).statusCode, 200);
  const created = await contact(s, phone, 'subscribed');
  t.equal(created.statusCode, 201);
  t.equal(created.json().consent, 'unsubscribed', 'an API create of a suppressed phone starts unsubscribed');
  // An import that says "subscribed" for the other suppressed phone.
  const boundary = `----pigeon${randomUUID()}`;
  const csv = `phone,consent\n${phone2},yes\n+1415555${String(++seq).padStart(4, '0')},yes\n`;
  const payload = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`);
  const upload = await app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...s.headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
  t.equal(upload.statusCode, 202);
  await processImport(db.workerDb, s.shopId, upload.json().id);
  const list = (await app.inject({ url: '/api/v1/contacts?limit=10', headers: s.headers })).json().items as Array<{ phone: string; consent: string }>;
  t.equal(list.find((c) => c.phone === phone2)?.consent, 'unsubscribed', 'an import of a suppressed phone starts unsubscribed');
  t.equal(list.filter((c) => c.consent === 'subscribed').length, 1, 'the other row of the file is subscribed as it says');
  const verify = await app.inject({ url: '/api/v1/consent/verify', headers: s.headers });
  t.equal(verify.json().ok, true, 'the consent chains of the rewritten first links verify');
  // START takes the phone off the list: a later create honours the request again.
  const phone3 = `+1415555${String(++seq).padStart(4, '0')}`;
  await inbound(phone3, number, 'STOP');
  await inbound(phone3, number, 'START');
  t.equal((await contact(s, phone3, 'subscribed')).json().consent, 'subscribed');
  const { rows } = await db.admin.query(`select phone_e164 from app.suppressed_phones where shop_id = $1 order by 1`, [s.shopId]);
  t.same(rows.map((r) => r.phone_e164), [phone, phone2].sort());
});

t.test('a released number is quarantined and keeps routing replies to its shop', async (t) => {
  const a = await shop();
  const b = await shop();
  const number = freshNumber();
  await assign(a.shopId, number);
  const phone = `+1415555${String(++seq).padStart(4, '0')}`;
  const id = (await contact(a, phone)).json().id;
  const released = await release(a.shopId, number);
  t.ok(new Date(released.quarantinedUntil).getTime() > Date.now() + 29 * 86_400_000, 'quarantined for the configured days');
  t.match((await app.inject({ url: '/api/v1/sender-numbers', headers: a.headers })).json().items, [{ number, status: 'released' }]);
  t.same((await app.inject({ url: '/api/v1/settings', headers: a.headers })).json().senderNumbers, [], 'no longer sent from');
  await t.rejects(assign(b.shopId, number), /quarantined until/, 'not given to another shop during the quarantine');
  t.equal((await inbound(phone, number, 'STOP')).statusCode, 200);
  t.equal(await consentOf(a, id), 'unsubscribed', 'a STOP to the released number still reaches its shop');
  // After the quarantine (here: none), the number can move; replies then go to its new holder.
  const other = freshNumber();
  await assign(a.shopId, other);
  await release(a.shopId, other, 0);
  await assign(b.shopId, other);
  const idB = (await contact(b, phone)).json().id;
  await inbound(phone, other, 'STOP');
  t.equal(await consentOf(b, idB), 'unsubscribed', 'the new holder gets the replies');
  const { rows } = await db.admin.query(`select action from app.audit_events where shop_id = $1 and action like 'sender_number.%' order by created_at, id`, [a.shopId]);
  t.same(rows.map((r) => r.action), ['sender_number.assign', 'sender_number.release', 'sender_number.assign', 'sender_number.release']);
});

t.test('numbers bought through the provider API, given back when the assignment is refused', async (t) => {
  const a = await shop();
  const bought = await assignNumberCommand(db.workerDb, () => sms, parseNumberArgs(['--shop', a.shopId, '--buy', '--country', 'US']), 30);
  t.match(bought, { alreadyAssigned: false });
  t.ok(bought.providerNumberId && fake.ownedNumbers.get(bought.providerNumberId) === bought.number, 'bought from the provider');
  t.match((await app.inject({ url: '/api/v1/sender-numbers', headers: a.headers })).json().items, [{ number: bought.number, status: 'active' }]);
  // Release with --give-back hands it back to the provider.
  const released = await release(a.shopId, bought.number, 30, ['--give-back']);
  t.equal(released.givenBack, true);
  t.notOk(fake.ownedNumbers.has(bought.providerNumberId ?? ''), 'given back to the provider');
  // Buying a number another shop holds by hand: the purchase is undone.
  const b = await shop();
  const held = '+15550100999';
  await assign(b.shopId, held);
  const owned = fake.ownedNumbers.size;
  await t.rejects(assignNumberCommand(db.workerDb, () => sms, parseNumberArgs(['--shop', a.shopId, '--buy', '--number', held]), 30), /another shop/);
  t.equal(fake.ownedNumbers.size, owned, 'the refused purchase went back to the provider');
});

t.test('a text to a number nobody holds is kept for operators, counted, never dropped', async (t) => {
  const before = (await app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).body.match(/^pigeon_sms_inbound_unrouted_total (\d+)/m)?.[1] ?? '0';
  const eventId = randomUUID();
  const res = await inbound('+14155550777', '+19995550000', 'STOP', eventId);
  t.equal(res.statusCode, 200);
  t.same(res.json(), { received: true, duplicate: false });
  t.same((await inbound('+14155550777', '+19995550000', 'STOP', eventId)).json(), { received: true, duplicate: true }, 'a replay is a duplicate');
  const { rows } = await sql<{ event_id: string; from_phone: string; to_number: string; keyword: string }>`
    select event_id, from_phone, to_number, keyword from app_private.unrouted_inbound(10)`.execute(db.workerDb);
  t.match(rows, [{ event_id: eventId, from_phone: '+14155550777', to_number: '+19995550000', keyword: 'stop' }]);
  const after = (await app.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })).body.match(/^pigeon_sms_inbound_unrouted_total (\d+)/m)?.[1];
  t.equal(Number(after), Number(before) + 1, 'counted once');
  await t.rejects(db.apiDb.selectFrom('app.unrouted_inbound_messages' as never).selectAll().execute(), 'the API role cannot read the unrouted list');
});
