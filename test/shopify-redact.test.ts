// Shopify's erasing compliance topics: customers/redact (this shop's contact only, never
// another shop's with the same phone) and shop/redact (48 hours after an uninstall: the
// shop's personal data erased, the ledger and audit log kept; refused for a shop installed
// again or a body naming another shop).
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { campaignFixtures, fakeProviderFor, SMS_SECRET } from './helpers/campaign-fixtures.js';
import { shopifyWebhook } from './helpers/shopify-signing.js';
import { dispatchCampaign } from '../src/modules/campaigns/dispatch.js';
import { sendBatch } from '../src/modules/campaigns/send.js';
import { applyShopifyWebhook } from '../src/modules/shopify/webhooks.js';

const API_KEY = 'pigeon-test-app';
const API_SECRET = 'shpss_0123456789abcdef0123456789abcdef';
const db = await createTestDatabase(t, { apiPoolSize: 6 });
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET, SHOPIFY_API_KEY: API_KEY, SHOPIFY_API_SECRET: API_SECRET });
const { sms } = await fakeProviderFor(t);
const { shopWithContacts, draft, enqueue, ledgerMatchesWallet } = campaignFixtures(app, db, { phonePrefix: '+1202557', numberPrefix: '+1650557' });

async function shopifyShop(contacts: number, credits = 0) {
  const shop = await shopWithContacts(contacts, credits);
  const domain = `shop-${randomUUID().slice(0, 8)}.myshopify.com`;
  await db.admin.query(`update app.shops set shopify_domain = $2, shopify_installed_at = now() - interval '30 days' where id = $1`, [shop.shopId, domain]);
  return { ...shop, domain };
}
async function deliver(domain: string, topic: string, payload: Record<string, unknown>) {
  const webhookId = randomUUID();
  const delivery = shopifyWebhook(payload, { topic, shop: domain, apiSecret: API_SECRET, webhookId });
  const res = await app.inject({ method: 'POST', url: '/webhooks/shopify', headers: delivery.headers, payload: delivery.body });
  t.equal(res.statusCode, 200, `${topic} acknowledged`);
  return { webhookId, outcome: await applyShopifyWebhook(db.workerDb, webhookId) };
}
const contactRow = async (id: string) => (await db.admin.query(`select phone_e164, first_name, deleted_at from app.contacts where id = $1`, [id])).rows[0];

t.test('customers/redact redacts this shop’s contact with that phone, and not another shop’s', async (t) => {
  const shop = await shopifyShop(2);
  const other = await shopifyShop(0);
  // The other shop has a contact with the same phone.
  const same = await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: other.headers, payload: { phone: shop.phones[0], consent: 'subscribed' } });
  t.equal(same.statusCode, 201);
  const { outcome } = await deliver(shop.domain, 'customers/redact', { shop_id: 1, shop_domain: shop.domain, customer: { id: 191167, email: 'x@example.com', phone: shop.phones[0] }, orders_to_redact: [] });
  t.equal(outcome, 'applied');
  const redacted = await contactRow(shop.contactIds[0]!);
  t.equal(redacted.phone_e164, null);
  t.ok(redacted.deleted_at);
  t.equal((await contactRow(shop.contactIds[1]!)).phone_e164, shop.phones[1], 'the shop’s other contact is untouched');
  t.equal((await contactRow(same.json().id)).phone_e164, shop.phones[0], 'the other shop’s contact with that phone is untouched');
  const { rows } = await db.admin.query(`select action from app.audit_events where shop_id = $1 and action in ('contact.redact', 'shopify.customer_redacted')`, [shop.shopId]);
  t.same(rows.map((r) => r.action).sort(), ['contact.redact', 'shopify.customer_redacted']);
  // The same request sent under the other shop's domain but naming this shop in its body does nothing.
  const crossed = await deliver(other.domain, 'customers/redact', { shop_domain: shop.domain, customer: { phone: shop.phones[1] } });
  t.equal(crossed.outcome, 'ignored');
  t.equal((await contactRow(shop.contactIds[1]!)).phone_e164, shop.phones[1]);
});

t.test('shop/redact after an uninstall erases the shop’s personal data and keeps the ledger and audit log', async (t) => {
  const shop = await shopifyShop(3, 100);
  const id = await draft(shop);
  await enqueue(shop, id);
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 10 });
  const { rows: batches } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1`, [id]);
  for (const b of batches) await sendBatch(db.workerDb, sms, shop.shopId, id, b.id, { concurrency: 2 });
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 10 });
  await db.admin.query(`insert into app.suppressed_phones (shop_id, phone_e164, source) values ($1, '+12025579999', 'keyword')`, [shop.shopId]);
  const installed = await deliver(shop.domain, 'shop/redact', { shop_id: 1, shop_domain: shop.domain });
  t.equal(installed.outcome, 'ignored', 'not while the shop is installed');
  t.equal((await contactRow(shop.contactIds[0]!)).phone_e164, shop.phones[0]);
  await db.admin.query(`update app.shops set uninstalled_at = now() - interval '2 days' where id = $1`, [shop.shopId]);
  const other = await deliver(shop.domain, 'shop/redact', { shop_id: 1, shop_domain: 'someone-else.myshopify.com' });
  t.equal(other.outcome, 'ignored', 'a body naming another shop erases nothing');
  const { outcome } = await deliver(shop.domain, 'shop/redact', { shop_id: 1, shop_domain: shop.domain });
  t.equal(outcome, 'applied');
  const { rows: left } = await db.admin.query(
    `select count(*) filter (where phone_e164 is not null or first_name is not null or email is not null)::int as pii,
            count(*) filter (where deleted_at is null)::int as live from app.contacts where shop_id = $1`,
    [shop.shopId],
  );
  t.same(left[0], { pii: 0, live: 0 }, 'no contact keeps a phone, name or e-mail');
  t.equal((await db.admin.query(`select count(*)::int as n from app.consent_events where shop_id = $1 and (pii_phone is not null or pii_salt is not null)`, [shop.shopId])).rows[0].n, 0, 'consent evidence PII gone');
  t.ok((await db.admin.query(`select count(*)::int as n from app.consent_events where shop_id = $1`, [shop.shopId])).rows[0].n > 0, 'the consent hashes stay');
  t.equal((await db.admin.query(`select count(*)::int as n from app.suppressed_phones where shop_id = $1`, [shop.shopId])).rows[0].n, 0);
  t.equal((await db.admin.query(`select count(*)::int as n from app.campaign_recipients where shop_id = $1 and contact_id is not null`, [shop.shopId])).rows[0].n, 0, 'recipients no longer point at people');
  t.ok((await db.admin.query(`select personal_data_erased_at from app.shops where id = $1`, [shop.shopId])).rows[0].personal_data_erased_at);
  t.ok((await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1`, [shop.shopId])).rows[0].n > 0, 'the ledger is kept');
  await ledgerMatchesWallet(t, shop.shopId);
  const { rows: audit } = await db.admin.query(`select metadata from app.audit_events where shop_id = $1 and action = 'shopify.shop_redacted'`, [shop.shopId]);
  t.match(audit, [{ metadata: { contacts: 3, suppressedPhones: 1, campaigns: 1 } }]);
});

t.test('customers/data_request: the export is built for the shop’s owners, once per request, audited when read; not for members', async (t) => {
  const shop = await shopifyShop(2);
  const other = await shopifyShop(0);
  const payload = { shop_id: 1, shop_domain: shop.domain, orders_requested: [], customer: { id: 191167, email: 'x@example.com', phone: shop.phones[0] }, data_request: { id: 9999 } };
  t.equal((await deliver(shop.domain, 'customers/data_request', payload)).outcome, 'applied');
  t.equal((await deliver(shop.domain, 'customers/data_request', payload)).outcome, 'applied', 'a second delivery of the same request (a new webhook id)');
  const list = await app.inject({ method: 'GET', url: '/api/v1/privacy/data-requests', headers: shop.headers });
  t.equal(list.statusCode, 200);
  t.equal(list.json().items.length, 1, 'one request stored');
  t.match(list.json().items[0], { source: 'shopify', externalRequestId: '9999', externalCustomerId: '191167', contactFound: true });
  const one = await app.inject({ method: 'GET', url: `/api/v1/privacy/data-requests/${list.json().items[0].id}`, headers: shop.headers });
  t.equal(one.statusCode, 200);
  t.equal(one.json().data.contact.phone, shop.phones[0], 'the export is the contact’s data');
  t.ok(Array.isArray(one.json().data.consentHistory));
  const { rows } = await db.admin.query(`select action from app.audit_events where shop_id = $1 and action like 'privacy.%' order by created_at`, [shop.shopId]);
  t.same(rows.map((r) => r.action), ['privacy.data_request_received', 'privacy.data_request_read']);
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/privacy/data-requests/${list.json().items[0].id}`, headers: other.headers })).statusCode, 404, 'another shop’s request is 404');
  t.same((await app.inject({ method: 'GET', url: '/api/v1/privacy/data-requests', headers: other.headers })).json().items, []);
  const unknown = await deliver(shop.domain, 'customers/data_request', { ...payload, customer: { id: 5, phone: '+12025550000' }, data_request: { id: 10000 } });
  t.equal(unknown.outcome, 'applied');
  const again = (await app.inject({ method: 'GET', url: '/api/v1/privacy/data-requests', headers: shop.headers })).json().items;
  t.match(again[0], { externalRequestId: '10000', contactFound: false }, 'a customer Pigeon has no contact for is recorded with no export');
});
