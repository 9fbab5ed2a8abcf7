// Campaigns and the send pipeline, as the failures the audits list: double enqueue,
// enqueue without credits, crashes around the provider call and the debit, a provider
// outage, replayed delivery reports, STOP after enqueue, quiet hours, a lost dispatch job,
// another shop's campaign. After each test the ledger sums to the wallet.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { dispatchCampaign } from '../src/modules/campaigns/dispatch.js';
import { sendBatch, ProviderUnavailableError, SendingPausedError } from '../src/modules/campaigns/send.js';
import { reconcileCampaigns } from '../src/modules/campaigns/reconcile.js';
import { campaignFixtures, fakeProviderFor, SMS_KEY, SMS_SECRET } from './helpers/campaign-fixtures.js';
import { bearer, signUp } from './helpers/accounts.js';
import { buyCredits } from './helpers/ledger.js';
import { createSmsClient } from '../src/providers/sms/client.js';
import { startFakeSmsProvider } from '../src/providers/sms/fake-server.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';
import { withShop } from '../src/db/with-shop.js';
import { addSendingHold } from '../src/modules/settings/service.js';
import { sendingHoldsCommand } from '../src/modules/settings/holds-operator.js';

const db = await createTestDatabase(t, { apiPoolSize: 6 });
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET });
const { fake, sms } = await fakeProviderFor(t);

const { shopWithContacts, draft, enqueue, wallet, metrics, ledgerMatchesWallet } = campaignFixtures(app, db, { phonePrefix: '+1202555', numberPrefix: '+1650555' });
type Shop = Awaited<ReturnType<typeof shopWithContacts>>;

/** What the worker does: dispatch, send every pending batch, until the campaign finishes. */
async function drain(shopId: string, campaignId: string, options: { batchSize?: number } = {}) {
  for (let round = 0; round < 100; round++) {
    const outcome = await dispatchCampaign(db.workerDb, shopId, campaignId, { batchSize: options.batchSize ?? 3 });
    if (outcome.state !== 'dispatching') return outcome;
    const { rows } = await db.admin.query(`select id::text from app.campaign_batches where shop_id = $1 and campaign_id = $2 and status = 'pending' order by id`, [shopId, campaignId]);
    for (const batch of rows) await sendBatch(db.workerDb, sms, shopId, campaignId, batch.id, { concurrency: 4 });
  }
  throw new Error('campaign did not finish');
}

t.test('estimate: recipients, encoding after personalisation, credits', async (t) => {
  const shop = await shopWithContacts(2, 0);
  await app.inject({ method: 'PATCH', url: `/api/v1/contacts/${shop.contactIds[1]}`, headers: shop.headers, payload: { firstName: 'Zoë' } });
  const id = await draft(shop, `Hi {{first_name}}! ${'a'.repeat(120)}`);
  const estimate = await app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/estimate`, headers: shop.headers });
  t.equal(estimate.statusCode, 200);
  // Sam: GSM-7, 1 segment (+ opt-out line: 2). Zoë: UCS-2, 3 segments.
  t.same(estimate.json().encodings, { 'GSM-7': 1, 'UCS-2': 1 });
  t.equal(estimate.json().recipients, 2);
  t.equal(estimate.json().credits, estimate.json().segmentsPerMessage.min + estimate.json().segmentsPerMessage.max);
  t.ok(estimate.json().segmentsPerMessage.max > estimate.json().segmentsPerMessage.min, 'the name switched the encoding');
});

t.test('rules: unknown tags, a past schedule, another shop’s segment', async (t) => {
  const shop = await shopWithContacts(0, 0);
  const other = await shopWithContacts(0, 0);
  const seg = await app.inject({ method: 'POST', url: '/api/v1/segments', headers: other.headers, payload: { name: 's', rule: { field: 'consent', op: 'eq', value: 'subscribed' } } });
  const create = (payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: shop.headers, payload: { name: 'x', body: 'hello', ...payload } });
  t.equal((await create({ body: 'Hi {{frist_name}}' })).statusCode, 400);
  t.equal((await create({ scheduledAt: new Date(Date.now() - 60_000).toISOString() })).statusCode, 400);
  t.equal((await create({ segmentId: seg.json().id })).statusCode, 404, "another shop's segment is not a reference");
  t.equal((await create({ body: 'x'.repeat(1601) })).statusCode, 400);
});

t.test('two concurrent enqueues: exactly one succeeds, the other is 409', async (t) => {
  const shop = await shopWithContacts(3, 100);
  const id = await draft(shop);
  const [a, b] = await Promise.all([enqueue(shop, id), enqueue(shop, id)]);
  t.same([a.statusCode, b.statusCode].sort(), [200, 409]);
  const { rows } = await db.admin.query(`select count(*)::int as n from app.campaign_recipients where campaign_id = $1`, [id]);
  t.equal(rows[0].n, 3, 'recipients inserted once');
  const { rows: reserves } = await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1 and kind = 'reserve'`, [shop.shopId]);
  t.equal(reserves[0].n, 1, 'reserved once');
  const { rows: jobs } = await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key = $1`, [`${shop.shopId}:campaign:${id}:dispatch`]);
  t.equal(jobs[0].n, 1, 'the dispatch job was added with the enqueue');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('enqueue without enough credits is 402 and changes nothing', async (t) => {
  const shop = await shopWithContacts(3, 2);
  const id = await draft(shop);
  const res = await enqueue(shop, id);
  t.equal(res.statusCode, 402);
  t.equal(res.json().error.code, 'INSUFFICIENT_CREDITS');
  t.same(res.json().error.details, { creditsNeeded: 3, creditsAvailable: 2 }, 'API.md: 402 details are {creditsNeeded, creditsAvailable}');
  const campaign = await app.inject({ url: `/api/v1/campaigns/${id}`, headers: shop.headers });
  t.equal(campaign.json().status, 'draft');
  const { rows } = await db.admin.query(
    `select (select count(*)::int from app.campaign_recipients where campaign_id = $1) as recipients,
            (select count(*)::int from graphile_worker._private_jobs where key like $2) as jobs,
            (select count(*)::int from app.credit_ledger where shop_id = $3 and kind = 'reserve') as reserves`,
    [id, `${shop.shopId}:campaign:${id}:%`, shop.shopId],
  );
  t.same(rows[0], { recipients: 0, jobs: 0, reserves: 0 });
  t.same(await wallet(shop.shopId), { balance: 2, reserved: 0, available: 2 });
});

t.test('a campaign sends once to everyone, debits once each, and releases the rest', async (t) => {
  const shop = await shopWithContacts(7, 100);
  const id = await draft(shop);
  const enqueued = await enqueue(shop, id, { 'idempotency-key': `enqueue-${id}` });
  t.equal(enqueued.statusCode, 200);
  const replay = await enqueue(shop, id, { 'idempotency-key': `enqueue-${id}` });
  t.equal(replay.headers['idempotent-replayed'], 'true', 'a retried enqueue replays');
  const cost = enqueued.json().estimate.credits as number;
  t.same(await wallet(shop.shopId), { balance: 100, reserved: cost, available: 100 - cost });
  const before = fake.sentCount;
  t.same(await drain(shop.shopId, id), { state: 'finished', status: 'sent' });
  t.equal(fake.sentCount - before, 7, 'seven messages went out');
  const m = await metrics(shop, id);
  t.match(m, { status: 'sent', recipients: 7, sent: 7, queued: 0, credits: { reserved: cost, spent: cost, released: 0 } });
  t.same(await wallet(shop.shopId), { balance: 100 - cost, reserved: 0, available: 100 - cost });
  const { rows } = await db.admin.query(`select count(*)::int as n, count(distinct recipient_id)::int as distinct from app.messages where campaign_id = $1`, [id]);
  t.same(rows[0], { n: 7, distinct: 7 });
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a crash after the provider call and before the debit: the retry sends nothing twice and debits once', async (t) => {
  const shop = await shopWithContacts(4, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 10 });
  const { rows } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1`, [id]);
  const before = fake.sentCount;
  await t.rejects(
    sendBatch(db.workerDb, sms, shop.shopId, id, rows[0].id, { concurrency: 2, afterProviderCalls: async () => { throw new Error('crash'); } }),
    /crash/,
  );
  t.equal(fake.sentCount - before, 4, 'the provider accepted four messages');
  const { rows: sending } = await db.admin.query(`select count(*)::int as n from app.campaign_recipients where campaign_id = $1 and status = 'sending'`, [id]);
  t.equal(sending[0].n, 4, 'recipients are left sending');
  await sendBatch(db.workerDb, sms, shop.shopId, id, rows[0].id, { concurrency: 2 });
  t.equal(fake.sentCount - before, 4, 'the retry sent nothing new (looked up by client reference)');
  const { rows: messages } = await db.admin.query(`select count(*)::int as n from app.messages where campaign_id = $1`, [id]);
  t.equal(messages[0].n, 4, 'one message row per recipient');
  const { rows: debits } = await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1 and kind = 'debit'`, [shop.shopId]);
  t.equal(debits[0].n, 4, 'one debit per recipient');
  // A crash after the commit: the job runs again; nothing is sent or debited again.
  await db.admin.query(`update app.campaign_batches set status = 'pending' where campaign_id = $1`, [id]);
  await sendBatch(db.workerDb, sms, shop.shopId, id, rows[0].id, { concurrency: 2 });
  t.equal(fake.sentCount - before, 4, 'no second send');
  const { rows: after } = await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1 and kind = 'debit'`, [shop.shopId]);
  t.equal(after[0].n, 4, 'no second debit');
  t.same(await drain(shop.shopId, id), { state: 'finished', status: 'sent' });
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a provider outage opens the breaker and pauses the campaign; recovery resumes it, nobody lost or doubled', async (t) => {
  const shop = await shopWithContacts(6, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 6 });
  const { rows } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1`, [id]);
  // A client of its own: the breaker's statistics start clean.
  const outageSms = createSmsClient({ baseUrl: fake.url, apiKey: SMS_KEY, timeoutMs: 1000, breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 200, volumeThreshold: 4 } });
  fake.setOutage(true);
  t.teardown(() => {
    fake.setOutage(false);
    outageSms.shutdown();
  });
  const before = fake.sentCount;
  await t.rejects(sendBatch(db.workerDb, outageSms, shop.shopId, id, rows[0].id, { concurrency: 1 }), ProviderUnavailableError);
  t.equal(outageSms.breakerState(), 'open', 'the breaker opened');
  t.equal((await metrics(shop, id)).status, 'sending', 'the campaign is paused, not failed');
  t.ok(fake.requestCount > 0);
  const { rows: failed } = await db.admin.query(`select count(*)::int as n from app.campaign_recipients where campaign_id = $1 and status = 'failed'`, [id]);
  t.equal(failed[0].n, 0, 'no recipient failed because of the outage');
  fake.setOutage(false);
  await new Promise((r) => setTimeout(r, 250));
  await sendBatch(db.workerDb, outageSms, shop.shopId, id, rows[0].id, { concurrency: 1 });
  t.equal(outageSms.breakerState(), 'closed', 'the breaker closed again');
  t.same(await drain(shop.shopId, id), { state: 'finished', status: 'sent' });
  t.equal(fake.sentCount - before, 6, 'each recipient exactly once');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a delivery report replayed twice refunds once; bad signatures change nothing', async (t) => {
  const shop = await shopWithContacts(2, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await drain(shop.shopId, id);
  const { rows } = await db.admin.query(`select provider_message_id, credits from app.messages where campaign_id = $1 order by recipient_id`, [id]);
  const report = JSON.stringify({ eventId: randomUUID(), messageId: rows[0].provider_message_id, status: 'failed', errorCode: 'unreachable' });
  const post = (body: string, headers = signSmsWebhook(body, SMS_SECRET)) => app.inject({ method: 'POST', url: '/webhooks/sms/status', headers: { 'content-type': 'application/json', ...headers }, payload: body });
  const balance = (await wallet(shop.shopId)).balance;
  t.equal((await post(report, signSmsWebhook(report, 'wrong-secret'))).statusCode, 401, 'wrong secret');
  t.equal((await post(report, signSmsWebhook(report, SMS_SECRET, Math.floor(Date.now() / 1000) - 600))).statusCode, 401, 'stale');
  t.equal((await post(report, {})).statusCode, 401, 'unsigned');
  t.equal((await wallet(shop.shopId)).balance, balance, 'refused reports changed nothing');
  const first = await post(report);
  const second = await post(report);
  t.same([first.statusCode, first.json().duplicate, second.statusCode, second.json().duplicate], [200, false, 200, true]);
  const again = JSON.stringify({ eventId: randomUUID(), messageId: rows[0].provider_message_id, status: 'failed' });
  await post(again);
  t.equal((await wallet(shop.shopId)).balance, balance + rows[0].credits, 'refunded exactly once');
  t.match(await metrics(shop, id), { failed: 1, credits: { refunded: rows[0].credits } });
  const delivered = JSON.stringify({ eventId: randomUUID(), messageId: rows[1].provider_message_id, status: 'delivered' });
  await post(delivered);
  t.match(await metrics(shop, id), { delivered: 1 });
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('STOP from a contact stops a campaign already queued to them', async (t) => {
  const shop = await shopWithContacts(3, 100);
  const shopNumber = shop.number;
  const id = await draft(shop);
  await enqueue(shop, id);
  const stop = JSON.stringify({ eventId: randomUUID(), from: shop.phones[1], to: shopNumber, text: ' stop ' });
  const res = await app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...signSmsWebhook(stop, SMS_SECRET) }, payload: stop });
  t.equal(res.statusCode, 200);
  // A forged STOP (wrong secret) or a stale one for another contact changes nothing.
  const forged = JSON.stringify({ eventId: randomUUID(), from: shop.phones[0], to: shopNumber, text: 'STOP' });
  const inbound = (body: string, headers: Record<string, string>) => app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...headers }, payload: body });
  t.equal((await inbound(forged, signSmsWebhook(forged, 'not-the-secret'))).statusCode, 401, 'forged');
  t.equal((await inbound(forged, signSmsWebhook(forged, SMS_SECRET, Math.floor(Date.now() / 1000) - 600))).statusCode, 401, 'stale');
  t.equal((await inbound(forged, {})).statusCode, 401, 'unsigned');
  t.equal((await app.inject({ url: `/api/v1/contacts/${shop.contactIds[0]}`, headers: shop.headers })).json().consent, 'subscribed', 'the refused STOPs changed nothing');
  const replay = await app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...signSmsWebhook(stop, SMS_SECRET) }, payload: stop });
  t.equal(replay.json().duplicate, true, 'a replayed inbound event is a duplicate');
  const contact = await app.inject({ url: `/api/v1/contacts/${shop.contactIds[1]}`, headers: shop.headers });
  t.equal(contact.json().consent, 'unsubscribed');
  const history = await app.inject({ url: `/api/v1/contacts/${shop.contactIds[1]}/consent`, headers: shop.headers });
  t.equal(history.json().items.at(-1).source, 'keyword');
  const before = fake.sentCount;
  await drain(shop.shopId, id);
  t.equal(fake.sentCount - before, 2);
  const recipients = await app.inject({ url: `/api/v1/campaigns/${id}/recipients?status=skipped`, headers: shop.headers });
  t.same(recipients.json().items.map((r: { contactId: string; skipReason: string }) => [r.contactId, r.skipReason]), [[shop.contactIds[1], 'unsubscribed']]);
  t.match(await metrics(shop, id), { sent: 2, skipped: 1 });
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('quiet hours in the recipient time zone skip and record', async (t) => {
  // A quiet period covering every minute but one: whatever the clock says, it is quiet.
  const now = new Date();
  const utcMinutes = now.getUTCHours() * 60 + now.getUTCMinutes();
  const clock = (m: number) => `${String(Math.floor(((m + 1440) % 1440) / 60)).padStart(2, '0')}:${String(((m + 1440) % 1440) % 60).padStart(2, '0')}`;
  const shop = await shopWithContacts(2, 100, { quietHoursStart: clock(utcMinutes - 5), quietHoursEnd: clock(utcMinutes - 7) });
  for (const id of shop.contactIds) await app.inject({ method: 'PATCH', url: `/api/v1/contacts/${id}`, headers: shop.headers, payload: { timeZone: 'UTC' } });
  const id = await draft(shop);
  await enqueue(shop, id);
  const before = fake.sentCount;
  await drain(shop.shopId, id);
  t.equal(fake.sentCount - before, 0, 'nothing sent in quiet hours');
  const recipients = await app.inject({ url: `/api/v1/campaigns/${id}/recipients`, headers: shop.headers });
  t.same(recipients.json().items.map((r: { skipReason: string }) => r.skipReason), ['quiet_hours', 'quiet_hours']);
  t.same(await wallet(shop.shopId), { balance: 100, reserved: 0, available: 100 }, 'the reservation came back');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('cancel stops further sends and releases the reservation', async (t) => {
  const shop = await shopWithContacts(3, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  const cancelled = await app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/cancel`, headers: shop.headers });
  t.equal(cancelled.json().status, 'cancelled');
  t.same(await wallet(shop.shopId), { balance: 100, reserved: 0, available: 100 });
  const before = fake.sentCount;
  t.same(await dispatchCampaign(db.workerDb, shop.shopId, id), { state: 'not_sending' });
  t.equal(fake.sentCount, before);
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/cancel`, headers: shop.headers })).statusCode, 409, 'once');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('the kill switch pauses sending and resuming sends everyone once; only owners and admins flip it', async (t) => {
  const shop = await shopWithContacts(3, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 10 });
  const { rows } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1`, [id]);
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { sendingPaused: true } })).json().sendingPaused, true);
  const before = fake.sentCount;
  await t.rejects(sendBatch(db.workerDb, sms, shop.shopId, id, rows[0].id, { concurrency: 2 }), SendingPausedError);
  t.equal(fake.sentCount, before, 'nothing sent while paused');
  await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { sendingPaused: false } });
  t.same(await drain(shop.shopId, id), { state: 'finished', status: 'sent' });
  t.equal(fake.sentCount - before, 3);
  const { rows: audit } = await db.admin.query(`select metadata from app.audit_events where shop_id = $1 and action = 'settings.update'`, [shop.shopId]);
  t.ok(audit.some((a) => (a.metadata.changed as string[]).includes('sendingPaused')), 'audited');
  const member = await signUp(app, { shopName: 'M' });
  await db.admin.query(`insert into app.memberships (shop_id, user_id, role) values ($1, $2, 'member')`, [shop.shopId, member.userId]);
  const switched = await app.inject({ method: 'POST', url: `/api/v1/shops/${shop.shopId}/switch`, headers: member.headers });
  const asMember = bearer(switched.json().accessToken);
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: asMember, payload: { sendingPaused: true } })).statusCode, 403);
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { timeZone: 'Mars/Olympus' } })).json().error.code, 'INVALID_TIME_ZONE');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a billing hold (a dispute, a refund shortfall) pauses sending like the kill switch; the shop cannot lift it, an operator can', async (t) => {
  const shop = await shopWithContacts(2, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 10 });
  const { rows } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1`, [id]);
  await withShop(db.workerDb, shop.shopId, (tx) => addSendingHold(tx, shop.shopId, 'billing:dispute:dp_test'));
  const before = fake.sentCount;
  await t.rejects(sendBatch(db.workerDb, sms, shop.shopId, id, rows[0].id, { concurrency: 2 }), SendingPausedError);
  t.equal(fake.sentCount, before, 'nothing sent while held');
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { sendingPaused: false } })).statusCode, 200);
  await t.rejects(sendBatch(db.workerDb, sms, shop.shopId, id, rows[0].id, { concurrency: 2 }), SendingPausedError, 'the kill switch off does not lift a hold');
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { sendingHolds: [] } })).statusCode, 400, 'no route writes holds');
  const lifted = await sendingHoldsCommand(db.workerDb, { shopId: shop.shopId, lift: 'billing:dispute:dp_test', reason: 'dispute reviewed', operator: 'ops' });
  t.same(lifted, { holds: [], lifted: true });
  t.same(await drain(shop.shopId, id), { state: 'finished', status: 'sent' });
  t.equal(fake.sentCount - before, 2);
  const { rows: audit } = await db.admin.query(`select metadata from app.audit_events where shop_id = $1 and action = 'settings.sending_hold_lifted'`, [shop.shopId]);
  t.match(audit, [{ metadata: { hold: 'billing:dispute:dp_test', reason: 'dispute reviewed', operator: 'ops' } }]);
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('the reconciler finishes a campaign whose dispatch job was deleted', async (t) => {
  const shop = await shopWithContacts(2, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await db.admin.query(`delete from graphile_worker._private_jobs where key like $1`, [`${shop.shopId}:campaign:${id}:%`]);
  const report = await reconcileCampaigns(db.workerDb);
  t.ok(report.redispatched >= 1);
  const { rows } = await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key = $1`, [`${shop.shopId}:campaign:${id}:dispatch`]);
  t.equal(rows[0].n, 1, 'the dispatch job is back');
  t.same(await drain(shop.shopId, id), { state: 'finished', status: 'sent' });
  const second = await reconcileCampaigns(db.workerDb);
  t.equal(second.redispatched, 0, 'a second run finds nothing to do for it');
  const { rows: audit } = await db.admin.query(`select count(*)::int as n from app.audit_events where shop_id = $1 and action = 'campaign.reconcile'`, [shop.shopId]);
  t.equal(audit[0].n, 1, 'the repair is audited');
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test("shop B cannot read, enqueue or cancel shop A's campaign", async (t) => {
  const a = await shopWithContacts(1, 10);
  const b = await shopWithContacts(0, 0);
  const id = await draft(a);
  for (const [method, url] of [
    ['GET', `/api/v1/campaigns/${id}`],
    ['PATCH', `/api/v1/campaigns/${id}`],
    ['DELETE', `/api/v1/campaigns/${id}`],
    ['POST', `/api/v1/campaigns/${id}/estimate`],
    ['POST', `/api/v1/campaigns/${id}/enqueue`],
    ['POST', `/api/v1/campaigns/${id}/cancel`],
    ['GET', `/api/v1/campaigns/${id}/recipients`],
    ['GET', `/api/v1/campaigns/${id}/metrics`],
  ] as const) {
    const res = await app.inject({ method, url, headers: b.headers, ...(method === 'PATCH' ? { payload: { name: 'x' } } : {}) });
    t.equal(res.statusCode, 404, `${method} ${url}`);
  }
  t.equal((await app.inject({ url: `/api/v1/campaigns/${id}`, headers: a.headers })).json().status, 'draft');
});

t.test('the real worker runs the whole pipeline from the jobs the enqueue added', async (t) => {
  const { startWorker } = await import('../src/worker.js');
  const { createLogger } = await import('../src/logger.js');
  const { createMetrics } = await import('../src/metrics.js');
  const shop = await shopWithContacts(5, 100);
  const id = await draft(shop);
  const before = fake.sentCount;
  const worker = await startWorker({ connectionString: db.workerUrl, concurrency: 2, poolSize: 4, logger: createLogger('silent'), metrics: createMetrics(), crontab: false, sms: { sender: sms, concurrency: 4 } });
  t.teardown(() => worker.stop());
  t.equal((await enqueue(shop, id)).statusCode, 200);
  let status = '';
  for (let i = 0; i < 200 && status !== 'sent'; i++) {
    await new Promise((r) => setTimeout(r, 50));
    status = (await metrics(shop, id)).status;
  }
  t.equal(status, 'sent');
  // (The worker also finishes campaigns earlier tests left queued: count this one's.)
  t.equal([...fake.messages.values()].filter((m) => m.clientReference.startsWith(`${id}:`)).length, 5);
  t.ok(fake.sentCount - before >= 5);
  await ledgerMatchesWallet(t, shop.shopId);
});

t.test('a name that got longer after enqueue never spends another campaign’s reservation', async (t) => {
  const shop = await shopWithContacts(3, 6);
  const a = await draft(shop, 'Hi {{first_name}}!');
  const b = await draft(shop, 'Hello {{first_name}}!');
  t.equal((await enqueue(shop, a)).statusCode, 200);
  t.equal((await enqueue(shop, b)).statusCode, 200);
  t.same(await wallet(shop.shopId), { balance: 6, reserved: 6, available: 0 }, 'each reserved 3: nothing left');
  // After the enqueue the first contact's name becomes two segments long (UCS-2).
  await app.inject({ method: 'PATCH', url: `/api/v1/contacts/${shop.contactIds[0]}`, headers: shop.headers, payload: { firstName: `Zoë ${'x'.repeat(80)}` } });
  const reservedOf = async (id: string) => (await db.admin.query(`select credits_reserved::int as r from app.campaigns where id = $1`, [id])).rows[0].r as number;
  await drain(shop.shopId, a, { batchSize: 10 });
  const ma = await metrics(shop, a);
  t.match(ma, { status: 'sent', sent: 2, skipped: 1 }, 'one recipient did not fit and was skipped');
  t.equal(ma.credits.spent + ma.credits.released, ma.credits.reserved, 'A: spent + released = reserved');
  t.equal(ma.credits.reserved, 3, 'A took nothing from elsewhere (nothing was available)');
  const skipped = (await app.inject({ url: `/api/v1/campaigns/${a}/recipients?status=skipped`, headers: shop.headers })).json().items;
  t.same(skipped.map((r: { skipReason: string }) => r.skipReason), ['insufficient_credits']);
  t.equal(await reservedOf(b), 3, "B's reservation is untouched");
  t.same(await wallet(shop.shopId), { balance: 3, reserved: 3, available: 0 }, 'B still holds its 3 credits');
  await ledgerMatchesWallet(t, shop.shopId);
  // With credits available, the difference is reserved from them instead of skipping anyone.
  await buyCredits(db, shop.shopId, 5);
  await drain(shop.shopId, b, { batchSize: 10 });
  const mb = await metrics(shop, b);
  t.match(mb, { status: 'sent', sent: 3, skipped: 0 });
  t.equal(mb.credits.reserved, 4, 'B reserved the extra segment from what was available');
  t.equal(mb.credits.spent + mb.credits.released, mb.credits.reserved, 'B: spent + released = reserved');
  t.same(await wallet(shop.shopId), { balance: 4, reserved: 0, available: 4 });
  await ledgerMatchesWallet(t, shop.shopId);
});
