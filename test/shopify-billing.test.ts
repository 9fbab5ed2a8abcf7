// Credits for shops installed from Shopify, through Shopify's Billing API: the purchase is an
// AppPurchaseOneTime created with the server's price, and it is credited once, only when
// the purchase READ BACK from the Admin API is ACTIVE with the stored id, price and currency.
// The attacks: a replayed webhook, a webhook claiming a purchase Shopify has not activated,
// a webhook naming another shop's purchase; the same ledger path as Stripe (credited once
// whichever of webhook, confirm and reconciler comes first).
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp, type Account } from './helpers/accounts.js';
import { ledgerMatchesWallet } from './helpers/ledger.js';
import { fakeShopifyFor, installedShopifyShop, SHOPIFY_API_SECRET, type ShopifyShop } from './helpers/shopify-fixtures.js';
import { shopifyWebhook } from './helpers/shopify-signing.js';
import { fakeStripeFor } from './helpers/billing-fixtures.js';
import { withShop } from '../src/db/with-shop.js';
import { getWallet } from '../src/modules/wallet/service.js';
import { createShopifyPurchaser } from '../src/modules/shopify/app-purchases.js';
import { applyShopifyWebhook } from '../src/modules/shopify/webhooks.js';
import { reconcileBilling } from '../src/modules/billing/reconcile.js';

const db = await createTestDatabase(t, { apiPoolSize: 6 });
const kit = await fakeShopifyFor(t);
const { fake } = kit;
const stripe = await fakeStripeFor(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', ...kit.env, ...stripe.env });
const workerPurchaser = createShopifyPurchaser(db.workerDb, kit.keyRing, kit.admin, { test: true });

type ShopifyAccount = ShopifyShop;
const shopifyShop = () => installedShopifyShop(app, db, kit);
const wallet = (shopId: string) => withShop(db.apiDb, shopId, (tx) => getWallet(tx, shopId));
const purchaseOf = async (account: Account, id: string) => (await app.inject({ method: 'GET', url: `/api/v1/billing/purchases/${id}`, headers: account.headers })).json();
async function buy(account: ShopifyAccount, packageId = 'starter') {
  const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload: { packageId } });
  if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`);
  const purchaseId = res.json().purchase.id as string;
  const gid = (await db.admin.query(`select shopify_purchase_id from app.credit_purchases where id = $1`, [purchaseId])).rows[0].shopify_purchase_id as string;
  return { purchaseId, gid, checkoutUrl: res.json().checkoutUrl as string };
}
/** Shopify's app_purchases_one_time/update, signed as Shopify signs it, then its job. */
async function purchaseWebhook(account: ShopifyAccount, gid: string, status: string, webhookId = randomUUID()) {
  const delivery = shopifyWebhook(
    { app_purchase_one_time: { admin_graphql_api_id: gid, name: 'Pigeon: 1,000 credits', status, created_at: new Date().toISOString(), updated_at: new Date().toISOString() } },
    { topic: 'app_purchases_one_time/update', shop: account.domain, apiSecret: SHOPIFY_API_SECRET, webhookId },
  );
  const res = await app.inject({ method: 'POST', url: '/webhooks/shopify', headers: delivery.headers, payload: delivery.body });
  return { res, apply: () => applyShopifyWebhook(db.workerDb, webhookId, { shopifyPurchaser: workerPurchaser }) };
}

t.test('a Shopify shop buys through the Billing API with the server’s price, not Stripe', async (t) => {
  const shop = await shopifyShop();
  const sessionsBefore = stripe.fake.sessions.size;
  const { purchaseId, gid, checkoutUrl } = await buy(shop, 'growth');
  const created = fake.admin.purchase(shop.domain, gid)!;
  t.match(created, { price: { amount: '65.00', currencyCode: 'USD' }, test: true, status: 'PENDING' });
  t.equal(checkoutUrl, created.confirmationUrl, 'the merchant is sent to Shopify’s confirmation page');
  t.match(created.returnUrl, new RegExp(`/billing/shopify/return\\?purchase=${purchaseId}$`));
  t.equal(stripe.fake.sessions.size, sessionsBefore, 'no Stripe session for a Shopify shop');
  t.match(await purchaseOf(shop, purchaseId), { provider: 'shopify', status: 'pending', credits: 5000, amount: 6500 });
});

t.test('approved: the webhook reads the purchase back and credits it once; replays and repeats change nothing', async (t) => {
  const shop = await shopifyShop();
  const { purchaseId, gid } = await buy(shop);
  fake.admin.setPurchaseStatus(shop.domain, gid, 'ACTIVE');
  const webhookId = randomUUID();
  const first = await purchaseWebhook(shop, gid, 'ACTIVE', webhookId);
  t.equal(first.res.statusCode, 200);
  t.equal(await first.apply(), 'applied');
  t.equal((await wallet(shop.shopId)).balance, 1000);
  t.equal((await purchaseOf(shop, purchaseId)).status, 'paid');
  const replay = await purchaseWebhook(shop, gid, 'ACTIVE', webhookId);
  t.same(replay.res.json(), { received: true, duplicate: true });
  const again = await purchaseWebhook(shop, gid, 'ACTIVE'); // Shopify sends another update for the same purchase
  await again.apply();
  const confirm = await app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${purchaseId}/confirm`, headers: shop.headers });
  t.equal(confirm.json().status, 'paid');
  t.equal((await wallet(shop.shopId)).balance, 1000, 'credited exactly once');
  await ledgerMatchesWallet(db, t, shop.shopId);
});

t.test('a webhook claiming ACTIVE for a purchase Shopify has not activated credits nothing', async (t) => {
  const shop = await shopifyShop();
  const { purchaseId, gid } = await buy(shop);
  const forged = await purchaseWebhook(shop, gid, 'ACTIVE');
  t.equal(forged.res.statusCode, 200);
  await forged.apply();
  t.equal((await wallet(shop.shopId)).balance, 0, 'the read-back says PENDING');
  t.equal((await purchaseOf(shop, purchaseId)).status, 'pending');
});

t.test('a webhook naming another shop’s purchase is ignored; the other shop is not credited through it', async (t) => {
  const victim = await shopifyShop();
  const attacker = await shopifyShop();
  const { gid } = await buy(victim);
  fake.admin.setPurchaseStatus(victim.domain, gid, 'ACTIVE');
  const cross = await purchaseWebhook(attacker, gid, 'ACTIVE');
  t.equal(cross.res.statusCode, 200);
  t.equal(await cross.apply(), 'ignored');
  t.equal((await wallet(attacker.shopId)).balance, 0);
  t.equal((await wallet(victim.shopId)).balance, 0, 'nor is the victim credited by a webhook under another shop');
  const note = (await db.admin.query(`select note from app.shopify_webhooks where shop_domain = $1`, [attacker.domain])).rows[0].note;
  t.equal(note, 'no purchase of this shop has this id');
});

t.test('declined fails, expired expires; a lost webhook is recovered by the reconciler', async (t) => {
  const shop = await shopifyShop();
  const declined = await buy(shop);
  const expired = await buy(shop);
  const lost = await buy(shop);
  fake.admin.setPurchaseStatus(shop.domain, declined.gid, 'DECLINED');
  fake.admin.setPurchaseStatus(shop.domain, expired.gid, 'EXPIRED');
  fake.admin.setPurchaseStatus(shop.domain, lost.gid, 'ACTIVE');
  await (await purchaseWebhook(shop, declined.gid, 'DECLINED')).apply();
  t.match(await purchaseOf(shop, declined.purchaseId), { status: 'failed', failureReason: 'declined' });
  const report = await reconcileBilling(db.workerDb, null, new Date(Date.now() + 11 * 60_000), undefined, workerPurchaser);
  t.ok(report.purchasesSettled >= 2);
  t.equal((await purchaseOf(shop, expired.purchaseId)).status, 'expired');
  t.equal((await purchaseOf(shop, lost.purchaseId)).status, 'paid');
  t.equal((await wallet(shop.shopId)).balance, 1000);
  await ledgerMatchesWallet(db, t, shop.shopId);
});

t.test('a shop that is not a Shopify install still buys through Stripe', async (t) => {
  const plain = await signUp(app);
  const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: plain.headers, payload: { packageId: 'starter' } });
  t.equal(res.statusCode, 201);
  t.equal(res.json().purchase.provider, 'stripe');
  t.match(res.json().checkoutUrl, /\/c\/pay\/cs_test_/);
});
