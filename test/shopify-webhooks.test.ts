// Shopify webhooks, as the attacks: unsigned, mis-signed and tampered deliveries, the
// previous secret during a rotation, a replayed webhook id, one triggered beyond the horizon
// and a genuine retry 6 hours late, an unknown shop, a flood of bad signatures, and the
// app/uninstalled topic during a sending campaign (stops, releases, nothing lost; twice is once).
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
const OLD_SECRET = 'shpss_previous0123456789abcdef012345';
const db = await createTestDatabase(t, { apiPoolSize: 6 });
const env = { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET, SHOPIFY_API_KEY: API_KEY, SHOPIFY_API_SECRET: API_SECRET, SHOPIFY_API_SECRET_PREVIOUS: OLD_SECRET };
const { app } = await buildTestApp(t, db.apiDb, env);
const { sms } = await fakeProviderFor(t);
const { shopWithContacts, draft, enqueue, wallet, ledgerMatchesWallet } = campaignFixtures(app, db, { phonePrefix: '+1202556', numberPrefix: '+1650556' });

let address = 0;
const newDomain = () => `shop-${randomUUID().slice(0, 8)}.myshopify.com`;
/** A signed-up shop made a Shopify shop: its domain and an (opaque) stored token, as an install leaves them. */
async function shopifyShop(contacts = 0, credits = 0) {
  const shop = await shopWithContacts(contacts, credits);
  const domain = newDomain();
  await db.admin.query(`update app.shops set shopify_domain = $2, shopify_access_token = $3, shopify_installed_at = now() - interval '30 days' where id = $1`, [
    shop.shopId,
    domain,
    'v1.test1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA',
  ]);
  return { ...shop, domain };
}
function post(delivery: { body: string; headers: Record<string, string> }, remoteAddress = `192.0.2.${(++address % 200) + 1}`, target = app) {
  return target.inject({ method: 'POST', url: '/webhooks/shopify', headers: delivery.headers, payload: delivery.body, remoteAddress });
}
const uninstallPayload = (domain: string) => ({ id: 548380009, name: 'Shop', myshopify_domain: domain, domain, email: 'owner@example.com' });
const recordOf = async (webhookId: string) =>
  (await db.admin.query(`select status, topic, shop_domain, target_shop_id, payload, note from app.shopify_webhooks where webhook_id = $1`, [webhookId])).rows[0] as
    | { status: string; topic: string; target_shop_id: string | null; payload: Record<string, unknown>; note: string | null }
    | undefined;
const jobsOf = async (webhookId: string) => (await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key = $1`, [`shopify-webhook:${webhookId}`])).rows[0].n as number;
const webhookCount = async (domain: string) => (await db.admin.query(`select count(*)::int as n from app.shopify_webhooks where shop_domain = $1`, [domain])).rows[0].n as number;

t.test('unsigned, mis-signed and tampered webhooks are 401 and record nothing', async (t) => {
  const shop = await shopifyShop();
  const genuine = shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET });
  const { 'X-Shopify-Hmac-Sha256': _hmac, ...unsignedHeaders } = genuine.headers;
  const wrongSecret = shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: 'shpss_not-the-app-secret-at-all-000000' });
  const tampered = { body: genuine.body.replace('"Shop"', '"Evil"'), headers: genuine.headers };
  for (const [label, delivery] of [['unsigned', { body: genuine.body, headers: unsignedHeaders }], ['another secret', wrongSecret], ['tampered body', tampered]] as const) {
    const res = await post(delivery);
    t.equal(res.statusCode, 401, label);
    t.equal(res.json().error.code, 'INVALID_HMAC', label);
    t.ok(res.json().error.requestId, `${label}: the error envelope`);
  }
  t.equal(await webhookCount(shop.domain), 0, 'nothing recorded');
  t.equal((await db.admin.query(`select uninstalled_at from app.shops where id = $1`, [shop.shopId])).rows[0].uninstalled_at, null);
});

t.test('the previous secret is accepted during a rotation', async (t) => {
  const shop = await shopifyShop();
  const delivery = shopifyWebhook({ id: 1 }, { topic: 'products/update', shop: shop.domain, apiSecret: OLD_SECRET });
  const res = await post(delivery);
  t.equal(res.statusCode, 200);
  t.same(res.json(), { received: true, duplicate: false });
  const record = await recordOf(delivery.headers['X-Shopify-Webhook-Id']!);
  t.equal(record?.status, 'received', 'a topic with no handler yet is kept for its handler');
  t.equal(await jobsOf(delivery.headers['X-Shopify-Webhook-Id']!), 0, 'and gets no job');
});

t.test('a replayed webhook id is acknowledged as a duplicate: one record, one job', async (t) => {
  const shop = await shopifyShop();
  const webhookId = randomUUID();
  const delivery = shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET, webhookId });
  t.same((await post(delivery)).json(), { received: true, duplicate: false });
  for (let i = 0; i < 3; i++) {
    const again = await post(delivery);
    t.equal(again.statusCode, 200);
    t.same(again.json(), { received: true, duplicate: true });
  }
  t.equal(await webhookCount(shop.domain), 1);
  t.equal(await jobsOf(webhookId), 1);
  t.equal((await recordOf(webhookId))?.status, 'pending');
});

t.test('triggered beyond the 48-hour horizon or in the future: refused; a retry 6 hours late: accepted once', async (t) => {
  const shop = await shopifyShop();
  const at = (hours: number) => new Date(Date.now() + hours * 3600_000);
  for (const [label, triggeredAt] of [['49 h ago', at(-49)], ['10 minutes ahead', at(1 / 6)]] as const) {
    const res = await post(shopifyWebhook({ id: 2 }, { topic: 'customers/update', shop: shop.domain, apiSecret: API_SECRET, triggeredAt }));
    t.equal(res.statusCode, 401, label);
    t.equal(res.json().error.code, 'INVALID_SIGNATURE', label);
  }
  t.equal(await webhookCount(shop.domain), 0);
  const webhookId = randomUUID();
  const retry = shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET, webhookId, triggeredAt: at(-6) });
  t.same((await post(retry)).json(), { received: true, duplicate: false }, 'first seen 6 hours after the event');
  t.same((await post(retry)).json(), { received: true, duplicate: true });
  t.equal(await jobsOf(webhookId), 1);
});

t.test('an unknown shop is acknowledged and recorded as ignored, with no payload and no job', async (t) => {
  const domain = newDomain();
  const delivery = shopifyWebhook({ id: 3, email: 'someone@example.com' }, { topic: 'customers/update', shop: domain, apiSecret: API_SECRET });
  const res = await post(delivery);
  t.equal(res.statusCode, 200);
  const record = await recordOf(delivery.headers['X-Shopify-Webhook-Id']!);
  t.equal(record?.status, 'ignored');
  t.same(record?.payload, {}, 'its personal data is not kept');
  t.equal(await jobsOf(delivery.headers['X-Shopify-Webhook-Id']!), 0);
  const bad = shopifyWebhook({ id: 3 }, { topic: 'customers/update', shop: 'evil.com', apiSecret: API_SECRET });
  t.equal((await post(bad)).statusCode, 400, 'a shop header that is no myshopify domain');
});

t.test('too many bad signatures from one address: 429; valid deliveries from elsewhere are not limited', async (t) => {
  const fresh = await buildTestApp(t, db.apiDb, { ...env, WEBHOOK_SIGNATURE_FAILURE_MAX: '3' });
  const shop = await shopifyShop();
  const forged = shopifyWebhook({ id: 4 }, { topic: 'customers/update', shop: shop.domain, apiSecret: 'shpss_forged-secret-000000000000000000' });
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await post(forged, '203.0.113.90', fresh.app)).statusCode);
  t.same(statuses.slice(0, 3), [401, 401, 401]);
  t.equal(statuses[4], 429);
  const good = await post(shopifyWebhook({ id: 4 }, { topic: 'customers/update', shop: shop.domain, apiSecret: API_SECRET }), '203.0.113.91', fresh.app);
  t.equal(good.statusCode, 200);
});

t.test('without SHOPIFY_API_SECRET the webhook answers 503', async (t) => {
  const bare = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  const res = await post(shopifyWebhook({ id: 5 }, { topic: 'app/uninstalled', shop: newDomain(), apiSecret: API_SECRET }), undefined, bare.app);
  t.equal(res.statusCode, 503);
  t.equal(res.json().error.code, 'SHOPIFY_NOT_CONFIGURED');
});

t.test('app/uninstalled during a sending campaign: uninstalled, token erased, campaign cancelled and released, held, audited; twice is once', async (t) => {
  const shop = await shopifyShop(6, 100);
  const id = await draft(shop);
  t.equal((await enqueue(shop, id)).statusCode, 200);
  await dispatchCampaign(db.workerDb, shop.shopId, id, { batchSize: 3 });
  const { rows: batches } = await db.admin.query(`select id::text from app.campaign_batches where campaign_id = $1 order by id`, [id]);
  await sendBatch(db.workerDb, sms, shop.shopId, id, batches[0].id, { concurrency: 2 });
  t.equal((await db.admin.query(`select status from app.campaigns where id = $1`, [id])).rows[0].status, 'sending');
  const before = await wallet(shop.shopId);
  t.ok(before.reserved > 0, 'credits still reserved for the unsent half');

  const webhookId = randomUUID();
  const res = await post(shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET, webhookId }));
  t.equal(res.statusCode, 200);
  t.equal(await applyShopifyWebhook(db.workerDb, webhookId), 'applied');

  const { rows: shopRows } = await db.admin.query(`select uninstalled_at, shopify_access_token from app.shops where id = $1`, [shop.shopId]);
  t.ok(shopRows[0].uninstalled_at, 'marked uninstalled');
  t.equal(shopRows[0].shopify_access_token, null, 'the offline token is erased');
  t.equal((await db.admin.query(`select status from app.campaigns where id = $1`, [id])).rows[0].status, 'cancelled');
  const after = await wallet(shop.shopId);
  t.equal(after.reserved, 0, 'the reservation is released');
  const { rows: debits } = await db.admin.query(`select coalesce(sum(-credits), 0)::int as spent from app.credit_ledger where shop_id = $1 and kind = 'debit'`, [shop.shopId]);
  t.equal(after.balance, 100 - debits[0].spent, 'only what was sent is spent');
  await ledgerMatchesWallet(t, shop.shopId);
  const holds = (await db.admin.query(`select sending_holds from app.shop_settings where shop_id = $1`, [shop.shopId])).rows[0].sending_holds;
  t.same(holds, ['shopify:uninstalled']);
  const audit = async () => (await db.admin.query(`select action, user_id from app.audit_events where shop_id = $1 and action in ('shopify.app_uninstalled', 'campaign.cancel') order by created_at, id`, [shop.shopId])).rows;
  t.same((await audit()).map((a) => a.action).sort(), ['campaign.cancel', 'shopify.app_uninstalled'], 'the cancel and the uninstall, in one transaction');
  t.ok((await audit()).every((a) => a.user_id === null), 'by the system');
  const record = await recordOf(webhookId);
  t.equal(record?.status, 'applied');
  t.same(record?.payload, {}, 'the payload is erased once applied');

  const snapshot = JSON.stringify([await wallet(shop.shopId), await audit(), holds, shopRows]);
  t.equal(await applyShopifyWebhook(db.workerDb, webhookId), 'already_settled', 'the job run again');
  const again = (await db.admin.query(`select uninstalled_at, shopify_access_token from app.shops where id = $1`, [shop.shopId])).rows;
  const holdsAgain = (await db.admin.query(`select sending_holds from app.shop_settings where shop_id = $1`, [shop.shopId])).rows[0].sending_holds;
  t.equal(JSON.stringify([await wallet(shop.shopId), await audit(), holdsAgain, again]), snapshot, 'changes nothing');

  const late = shopifyWebhook({ id: 6 }, { topic: 'customers/update', shop: shop.domain, apiSecret: API_SECRET });
  t.equal((await post(late)).statusCode, 200);
  t.equal((await recordOf(late.headers['X-Shopify-Webhook-Id']!))?.status, 'ignored', 'an uninstalled shop’s webhooks are acknowledged and ignored');
});

t.test('an app/uninstalled whose body names another shop, or triggered before the last install, changes nothing', async (t) => {
  const shop = await shopifyShop();
  const other = await shopifyShop();
  const foreign = randomUUID();
  await post(shopifyWebhook(uninstallPayload(other.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET, webhookId: foreign }));
  t.equal(await applyShopifyWebhook(db.workerDb, foreign), 'ignored');
  await db.admin.query(`update app.shops set shopify_installed_at = now() where id = $1`, [shop.shopId]);
  const stale = randomUUID();
  await post(shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET, webhookId: stale, triggeredAt: new Date(Date.now() - 3600_000) }));
  t.equal(await applyShopifyWebhook(db.workerDb, stale), 'ignored');
  const { rows } = await db.admin.query(`select uninstalled_at, shopify_access_token from app.shops where id = $1`, [shop.shopId]);
  t.equal(rows[0].uninstalled_at, null);
  t.ok(rows[0].shopify_access_token);
});

t.test('a webhook whose job was lost is queued again by the reconciler, once', async (t) => {
  const { requeueStaleShopifyWebhooks } = await import('../src/modules/shopify/webhooks.js');
  const shop = await shopifyShop();
  const webhookId = randomUUID();
  const delivery = shopifyWebhook(uninstallPayload(shop.domain), { topic: 'app/uninstalled', shop: shop.domain, apiSecret: API_SECRET, webhookId });
  t.equal((await post(delivery)).statusCode, 200);
  await db.admin.query(`delete from graphile_worker._private_jobs where key = $1`, [`shopify-webhook:${webhookId}`]);
  t.equal(await jobsOf(webhookId), 0, 'the job is gone (a worker lost it)');
  t.equal(await requeueStaleShopifyWebhooks(db.workerDb, new Date()), 0, 'not before 10 minutes');
  const later = new Date(Date.now() + 11 * 60_000);
  t.ok((await requeueStaleShopifyWebhooks(db.workerDb, later)) >= 1);
  t.equal(await jobsOf(webhookId), 1, 'queued again');
  await requeueStaleShopifyWebhooks(db.workerDb, later);
  t.equal(await jobsOf(webhookId), 1, 'a queued job is not queued twice');
  t.equal(await applyShopifyWebhook(db.workerDb, webhookId, { metrics: app.metrics }), 'applied');
  t.equal((await recordOf(webhookId))?.status, 'applied');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /pigeon_shopify_webhooks_total\{topic="app\/uninstalled",outcome="recorded"\} [1-9]/, 'received webhooks are counted by topic and outcome');
  t.match(metrics, /pigeon_shopify_webhooks_total\{topic="app\/uninstalled",outcome="applied"\} [1-9]/, 'and what the job did');
  t.notMatch(metrics, /pigeon_shopify_webhooks_total\{topic="products\/update"/, 'an unhandled topic (headers are unsigned) is counted as other');
});
