// The whole Shopify journey against the fake Shopify, as issue 13's "done when" lists it:
// a shop installed from Shopify → a backfill of its customers with their SMS consent → a
// customer update and an order arrive by webhook → a segment on the last-ordered date matches
// → a STOP texted to the shop shows up as unsubscribed in Shopify → uninstall → shop/redact
// erases the personal data. Plus the ordering attacks: an older customers/update after a newer
// one, and a Shopify "subscribed" older than a Pigeon STOP.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { fakeShopifyFor, installedShopifyShop, SHOPIFY_API_SECRET } from './helpers/shopify-fixtures.js';
import { SMS_SECRET } from './helpers/campaign-fixtures.js';
import { generatedCustomer } from './helpers/fake-shopify-admin.js';
import { shopifyWebhook } from './helpers/shopify-signing.js';
import { withShop } from '../src/db/with-shop.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';
import { runShopifySync } from '../src/modules/shopify/sync-job.js';
import { applyShopifyWebhook } from '../src/modules/shopify/webhooks.js';
import { pushShopifyConsent } from '../src/modules/shopify/consent-push.js';
import { assignSenderNumber } from '../src/modules/sender-numbers/service.js';
import { verifyShopChains } from '../src/modules/contacts/consent-chain.js';

const CUSTOMERS = 2_000;
const db = await createTestDatabase(t);
const kit = await fakeShopifyFor(t);
const { fake, deps } = kit;
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET, ...kit.env });

const account = await installedShopifyShop(app, db, kit, 'journey');
const domain = account.domain;
const senderNumber = '+16465559001';
await withShop(db.workerDb, account.shopId, (tx) => assignSenderNumber(tx, account.shopId, { number: senderNumber, quarantineDays: 30 }));
fake.admin.generateCustomers(domain, CUSTOMERS);

async function webhook(topic: string, payload: Record<string, unknown>, triggeredAt = new Date()) {
  const webhookId = randomUUID();
  const delivery = shopifyWebhook(payload, { topic, shop: domain, apiSecret: SHOPIFY_API_SECRET, webhookId, triggeredAt });
  const res = await app.inject({ method: 'POST', url: '/webhooks/shopify', headers: delivery.headers, payload: delivery.body });
  if (res.statusCode !== 200) throw new Error(`${topic}: ${res.statusCode} ${res.body}`);
  return applyShopifyWebhook(db.workerDb, webhookId);
}
const contactOf = async (customerId: string) =>
  (await db.admin.query(`select id, phone_e164, first_name, consent_state::text, last_ordered_at, tags from app.contacts where shop_id = $1 and shopify_customer_id = $2 and deleted_at is null`, [account.shopId, customerId])).rows[0];

// The customer the webhooks are about: the first generated one.
const first = generatedCustomer(1, 'gid://shopify/Customer/1');
const firstId = '1';

t.test('1. the backfill brings every customer with a phone in, with its consent', async (t) => {
  const started = await app.inject({ method: 'POST', url: '/api/v1/shopify/sync', headers: account.headers });
  t.equal(started.statusCode, 202);
  await runShopifySync(db.workerDb, deps, account.shopId, started.json().id, { pollIntervalMs: 1 });
  const progress = (await app.inject({ url: '/api/v1/shopify/sync', headers: account.headers })).json();
  t.equal(progress.status, 'done');
  const { rows } = await db.admin.query(`select count(*)::int as n, count(distinct shopify_customer_id)::int as customers from app.contacts where shop_id = $1 and deleted_at is null`, [account.shopId]);
  t.equal(rows[0].n, rows[0].customers, 'one contact per customer');
  t.equal(rows[0].n + progress.skipped, CUSTOMERS, 'every customer is a contact or counted as skipped');
  t.ok((await contactOf(firstId)) !== undefined);
  t.same((await withShop(db.workerDb, account.shopId, (tx) => verifyShopChains(tx, account.shopId))).ok, true, 'consent chains valid');
});

t.test('2. a customer update and an order arrive by webhook; an older update after a newer one changes nothing', async (t) => {
  const newer = new Date();
  const older = new Date(newer.getTime() - 60_000);
  const base = { id: 1, phone: first.phone, first_name: 'Renamed', last_name: 'Customer', tags: 'vip, journey', sms_marketing_consent: { state: 'subscribed', opt_in_level: 'single_opt_in', consent_updated_at: older.toISOString(), consent_collected_from: 'SHOPIFY' } };
  t.equal(await webhook('customers/update', { ...base, updated_at: newer.toISOString() }), 'applied');
  const updated = await contactOf(firstId);
  t.match(updated, { first_name: 'Renamed', consent_state: 'subscribed' });
  t.ok(['vip', 'journey'].every((tag) => updated.tags.includes(tag)), 'the tags Shopify sent are on the contact (the upsert adds tags, as imports do)');
  t.equal(await webhook('customers/update', { ...base, first_name: 'Stale', updated_at: older.toISOString() }, older), 'ignored', 'an older update is ignored');
  t.equal((await contactOf(firstId)).first_name, 'Renamed');
  const orderedAt = new Date(Date.now() - 3 * 86_400_000);
  t.equal(await webhook('orders/create', { id: 450789469, created_at: orderedAt.toISOString(), processed_at: orderedAt.toISOString(), currency: 'USD', total_price: '59.90', customer: { id: 1, phone: first.phone } }), 'applied');
  // An older order arriving after it does not move last_ordered_at back.
  await webhook('orders/create', { id: 450789470, created_at: new Date(orderedAt.getTime() - 86_400_000).toISOString(), currency: 'USD', total_price: '10.00', customer: { id: 1 } });
  t.equal(new Date((await contactOf(firstId)).last_ordered_at).toISOString(), orderedAt.toISOString());
  const { rows } = await db.admin.query(`select order_id::text, total_minor::int, currency from app.shopify_orders where shop_id = $1 order by order_id`, [account.shopId]);
  t.same(rows, [{ order_id: '450789469', total_minor: 5990, currency: 'usd' }, { order_id: '450789470', total_minor: 1000, currency: 'usd' }]);
});

t.test('3. a segment on the last-ordered date matches the customer who ordered', async (t) => {
  const segment = await app.inject({ method: 'POST', url: '/api/v1/segments', headers: account.headers, payload: { name: 'Ordered this week', rule: { all: [{ field: 'last_ordered_at', op: 'within_days', value: 7 }] } } });
  t.equal(segment.statusCode, 201, segment.body);
  const count = await app.inject({ url: `/api/v1/segments/${segment.json().id}/count`, headers: account.headers });
  t.match(count.json(), { contacts: 1, subscribed: 1 });
});

t.test('4. a STOP texted to the shop shows up as unsubscribed in Shopify; an older Shopify "subscribed" does not undo it', async (t) => {
  const contact = await contactOf(firstId);
  const body = JSON.stringify({ eventId: randomUUID(), from: contact.phone_e164, to: senderNumber, text: 'STOP' });
  const res = await app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...signSmsWebhook(body, SMS_SECRET) }, payload: body });
  t.equal(res.statusCode, 200);
  t.equal((await contactOf(firstId)).consent_state, 'unsubscribed');
  await pushShopifyConsent(db.workerDb, deps, account.shopId, contact.id);
  t.equal(fake.admin.customer(domain, 'gid://shopify/Customer/1')?.smsMarketingConsent?.marketingState, 'UNSUBSCRIBED', 'Shopify has the opt-out');
  const before = new Date(Date.now() - 3_600_000).toISOString();
  await webhook('customers/update', { id: 1, phone: first.phone, first_name: 'Renamed', tags: '', updated_at: new Date().toISOString(), sms_marketing_consent: { state: 'subscribed', opt_in_level: 'single_opt_in', consent_updated_at: before } });
  t.equal((await contactOf(firstId)).consent_state, 'unsubscribed', 'a Shopify subscribed older than the STOP never re-subscribes');
});

t.test('5. uninstall, then shop/redact erases the personal data', async (t) => {
  t.equal(await webhook('app/uninstalled', { id: 1, name: 'Journey', myshopify_domain: domain, domain }), 'applied');
  t.equal(await webhook('shop/redact', { shop_id: 1, shop_domain: domain }), 'applied');
  const { rows } = await db.admin.query(`select count(*) filter (where phone_e164 is not null or first_name is not null)::int as pii from app.contacts where shop_id = $1`, [account.shopId]);
  t.equal(rows[0].pii, 0);
  t.ok((await db.admin.query(`select personal_data_erased_at from app.shops where id = $1`, [account.shopId])).rows[0].personal_data_erased_at);
});
