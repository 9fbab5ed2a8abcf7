// Pigeon → Shopify consent (issue 13, "the other direction"), against the fake Shopify: a
// Shopify-linked contact that texts STOP through the signed SMS webhook has its push job
// committed with the opt-out, and the job marks the customer UNSUBSCRIBED in Shopify; a
// burst collapses into one job; contacts without a customer id and changes that came from
// Shopify add none; Shopify failing leaves the local opt-out alone and the job retries;
// refusals are recorded, not retried; a change during the push is pushed too.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { SMS_SECRET } from './helpers/campaign-fixtures.js';
import { signUp, type Account } from './helpers/accounts.js';
import { withShop } from '../src/db/with-shop.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';
import { storeShopifyAccessToken } from '../src/modules/shopify/access-token.js';
import { pushShopifyConsent, type ConsentPushOptions } from '../src/modules/shopify/consent-push.js';
import { assignSenderNumber } from '../src/modules/sender-numbers/service.js';
import { upsertContacts } from '../src/modules/contacts/bulk-upsert.js';
import { customerToContactRow } from '../src/modules/contacts/shopify-customer.js';
import { verifyShopChains } from '../src/modules/contacts/consent-chain.js';
import { recordConsentChange } from '../src/modules/contacts/consent.js';
import { jobKey } from '../src/jobs/catalogue.js';
import { loadTaskList } from '../src/task-list.js';
import { setWorkerDb, setWorkerKeyRing, setWorkerShopifyAdmin } from '../src/worker-context.js';
import { fakeShopifyFor } from './helpers/shopify-fixtures.js';
import { runDueJobs } from './helpers/run-jobs.js';

const db = await createTestDatabase(t);
const kit = await fakeShopifyFor(t);
const { fake, keyRing, admin, deps } = kit;
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', SMS_WEBHOOK_SECRET: SMS_SECRET, ...kit.env });

let seq = 0;
let customerSeq = 1000;

interface ShopifyShop extends Account {
  domain: string;
  number: string;
}

/** A Shopify-installed shop (domain, encrypted token the fake accepts) with a sender number for replies. */
async function shopifyShop(): Promise<ShopifyShop> {
  const account = await signUp(app);
  const domain = `push-${randomUUID().slice(0, 8)}.myshopify.com`;
  await db.admin.query('update app.shops set shopify_domain = $2 where id = $1', [account.shopId, domain]);
  const token = fake.admin.grant(domain);
  const number = `+1646555${String(++seq).padStart(4, '0')}`;
  await withShop(db.apiDb, account.shopId, (tx) => storeShopifyAccessToken(tx, keyRing, account.shopId, token));
  await withShop(db.workerDb, account.shopId, (tx) => assignSenderNumber(tx, account.shopId, { number, quarantineDays: 30 }));
  return { ...account, domain, number };
}

/** A customer in the fake Shopify, subscribed, and its contact as the sync/webhook path creates it (source 'shopify'). */
async function linkedContact(shop: ShopifyShop, state = 'SUBSCRIBED') {
  const customerId = String(++customerSeq);
  const gid = `gid://shopify/Customer/${customerId}`;
  const phone = `+1415666${String(++seq).padStart(4, '0')}`;
  const customer = {
    id: gid,
    firstName: 'Ann',
    lastName: 'Lee',
    phone,
    tags: [],
    updatedAt: '2025-01-01T00:00:00Z',
    smsMarketingConsent: { marketingState: state, marketingOptInLevel: 'SINGLE_OPT_IN', consentUpdatedAt: '2025-01-01T00:00:00Z', consentCollectedFrom: 'SHOPIFY' },
  };
  fake.admin.putCustomer(shop.domain, customer);
  const mapped = customerToContactRow(shop.shopId, customer, 'US', randomUUID(), new Date());
  if (!mapped.ok) throw new Error(mapped.reason);
  await withShop(db.workerDb, shop.shopId, (tx) => upsertContacts(tx, shop.shopId, [mapped.row], new Date(), { source: 'shopify' }));
  return { id: mapped.row.id, phone, gid, customerId };
}

async function inbound(shop: ShopifyShop, from: string, text: string) {
  const body = JSON.stringify({ eventId: randomUUID(), from, to: shop.number, text });
  const res = await app.inject({ method: 'POST', url: '/webhooks/sms/inbound', headers: { 'content-type': 'application/json', ...signSmsWebhook(body, SMS_SECRET) }, payload: body });
  if (res.statusCode !== 200) throw new Error(`inbound: ${res.statusCode} ${res.body}`);
}

const pushKey = (shopId: string, contactId: string) => `${shopId}:${jobKey('shopify_consent_push', { shopId, contactId })}`;
async function pushJobs(shopId: string, contactId?: string) {
  const { rows } = await db.admin.query(
    `select j.key, j.payload, j.max_attempts, t.identifier from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where t.identifier = 'shopify_consent_push' and j.key like $1 order by j.id`,
    [contactId ? pushKey(shopId, contactId) : `${shopId}:%`],
  );
  return rows as Array<{ key: string; payload: { shopId: string; contactId: string }; max_attempts: number }>;
}
async function contactRow(shopId: string, id: string) {
  const { rows } = await db.admin.query(`select consent_state::text as state, consent_updated_at from app.contacts where shop_id = $1 and id = $2`, [shopId, id]);
  return rows[0] as { state: string; consent_updated_at: Date };
}
const push = (shop: ShopifyShop, contactId: string, opts: ConsentPushOptions = {}) => pushShopifyConsent(db.workerDb, deps, shop.shopId, contactId, opts);
const consentIn = (shop: ShopifyShop, gid: string) => fake.admin.customer(shop.domain, gid)?.smsMarketingConsent;
const mutationsFor = (gid: string) => fake.admin.mutations.filter((m) => m.operation === 'customerSmsMarketingConsentUpdate' && (m.variables.input as { customerId: string }).customerId === gid);
async function audits(shopId: string, contactId: string) {
  const { rows } = await db.admin.query(`select action, result, metadata from app.audit_events where shop_id = $1 and resource_id = $2 and action like 'shopify.consent%' order by created_at, id`, [
    shopId,
    contactId,
  ]);
  return rows as Array<{ action: string; result: string; metadata: Record<string, unknown> }>;
}

t.test('a STOP texted to the shop: the job commits with the opt-out; running it marks the customer UNSUBSCRIBED in Shopify; again changes nothing', async (t) => {
  const shop = await shopifyShop();
  const c = await linkedContact(shop);
  t.same(await pushJobs(shop.shopId), [], 'a contact created from Shopify adds no job');
  await inbound(shop, c.phone, 'STOP');
  const local = await contactRow(shop.shopId, c.id);
  t.equal(local.state, 'unsubscribed');
  const jobs = await pushJobs(shop.shopId, c.id);
  t.equal(jobs.length, 1, 'the job was committed with the opt-out');
  t.same(jobs[0]!.payload, { shopId: shop.shopId, contactId: c.id }, 'ids only');
  t.equal(jobs[0]!.max_attempts, 25);
  t.equal(consentIn(shop, c.gid)?.marketingState, 'SUBSCRIBED', 'Shopify is told only by the job');

  t.match(await push(shop, c.id), { outcome: 'pushed', state: 'UNSUBSCRIBED', pushes: 1 });
  t.match(consentIn(shop, c.gid), { marketingState: 'UNSUBSCRIBED', consentUpdatedAt: new Date(local.consent_updated_at).toISOString() });
  t.same(mutationsFor(c.gid).map((m) => m.variables), [
    { input: { customerId: c.gid, smsMarketingConsent: { marketingState: 'UNSUBSCRIBED', consentUpdatedAt: new Date(local.consent_updated_at).toISOString() } } },
  ]);
  t.match(await audits(shop.shopId, c.id), [{ action: 'shopify.consent_pushed', result: 'success', metadata: { customerId: c.customerId, marketingState: 'UNSUBSCRIBED' } }]);

  const before = consentIn(shop, c.gid);
  t.match(await push(shop, c.id), { outcome: 'pushed', state: 'UNSUBSCRIBED' }, 'run twice (a retry after a lost answer)');
  t.same(consentIn(shop, c.gid)?.marketingState, before?.marketingState);
  t.same(consentIn(shop, c.gid)?.consentUpdatedAt, before?.consentUpdatedAt, 'the same state and time: idempotent');
  t.equal((await contactRow(shop.shopId, c.id)).state, 'unsubscribed');
  t.match(await withShop(db.workerDb, shop.shopId, (tx) => verifyShopChains(tx, shop.shopId)), { ok: true });
});

t.test('the job belongs to the transaction of the change: rolled back with it, committed with it', async (t) => {
  const shop = await shopifyShop();
  const c = await linkedContact(shop);
  const change = { shopId: shop.shopId, contactId: c.id, state: 'unsubscribed' as const, source: 'api' as const, actor: { kind: 'system' as const } };
  await t.rejects(
    withShop(db.workerDb, shop.shopId, async (tx) => {
      t.equal(await recordConsentChange(tx, change), 'changed');
      throw new Error('the caller fails after the change');
    }),
    /the caller fails/,
  );
  t.equal((await contactRow(shop.shopId, c.id)).state, 'subscribed');
  t.same(await pushJobs(shop.shopId, c.id), [], 'no job without its change');
  await withShop(db.workerDb, shop.shopId, (tx) => recordConsentChange(tx, change));
  t.equal((await pushJobs(shop.shopId, c.id)).length, 1);
  await withShop(db.workerDb, shop.shopId, (tx) => recordConsentChange(tx, change));
  t.equal((await pushJobs(shop.shopId, c.id)).length, 1, 'an unchanged state adds nothing more');
});

t.test('a STOP/START/STOP burst is one job, which pushes where the contact ended; a START pushes SUBSCRIBED (single opt-in)', async (t) => {
  const shop = await shopifyShop();
  const c = await linkedContact(shop);
  await inbound(shop, c.phone, 'STOP');
  await inbound(shop, c.phone, 'START');
  await inbound(shop, c.phone, 'STOP');
  t.equal((await pushJobs(shop.shopId, c.id)).length, 1, 'replaced, not added');
  t.match(await push(shop, c.id), { outcome: 'pushed', state: 'UNSUBSCRIBED', pushes: 1 });
  t.equal(mutationsFor(c.gid).length, 1);

  await inbound(shop, c.phone, 'START');
  t.match(await push(shop, c.id), { outcome: 'pushed', state: 'SUBSCRIBED' });
  t.match(consentIn(shop, c.gid), { marketingState: 'SUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN' });
});

t.test('the API, an admin and an import that unsubscribe a linked contact add the job too', async (t) => {
  const shop = await shopifyShop();
  const viaApi = await linkedContact(shop);
  const res = await app.inject({ method: 'POST', url: `/api/v1/contacts/${viaApi.id}/consent`, headers: shop.headers, payload: { state: 'unsubscribed', source: 'admin' } });
  t.equal(res.statusCode, 200, res.body);
  t.equal((await pushJobs(shop.shopId, viaApi.id)).length, 1);

  const viaImport = await linkedContact(shop);
  const mapped = customerToContactRow(shop.shopId, { id: viaImport.gid, phone: viaImport.phone, firstName: null, lastName: null, tags: [], smsMarketingConsent: null }, 'US', randomUUID(), new Date());
  if (!mapped.ok) throw new Error(mapped.reason);
  // A CSV row for the same phone (no customer id), unsubscribed: the import's source.
  const row = { ...mapped.row, shopifyCustomerId: null, consentAt: undefined, consent: 'unsubscribed' as const };
  await withShop(db.workerDb, shop.shopId, (tx) => upsertContacts(tx, shop.shopId, [row], new Date()));
  t.equal((await contactRow(shop.shopId, viaImport.id)).state, 'unsubscribed');
  t.equal((await pushJobs(shop.shopId, viaImport.id)).length, 1, 'an import moving a linked contact pushes');
  t.match(await push(shop, viaImport.id), { outcome: 'pushed', state: 'UNSUBSCRIBED' });
  t.equal(consentIn(shop, viaImport.gid)?.marketingState, 'UNSUBSCRIBED');
});

t.test('no job: a contact without a customer id; a change that came from Shopify', async (t) => {
  const shop = await shopifyShop();
  const phone = `+1415777${String(++seq).padStart(4, '0')}`;
  const plain = (await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: shop.headers, payload: { phone, consent: 'subscribed' } })).json().id as string;
  await inbound(shop, phone, 'STOP');
  t.equal((await contactRow(shop.shopId, plain)).state, 'unsubscribed');
  t.same(await pushJobs(shop.shopId), [], 'not linked to Shopify: nothing to push');

  const c = await linkedContact(shop);
  // Shopify says UNSUBSCRIBED, newer than the contact's consent (the sync / customers/update path).
  const customer = { id: c.gid, phone: c.phone, firstName: 'Ann', lastName: 'Lee', tags: [], smsMarketingConsent: { marketingState: 'UNSUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN', consentUpdatedAt: new Date(Date.now() + 60_000).toISOString(), consentCollectedFrom: 'SHOPIFY' } };
  const mapped = customerToContactRow(shop.shopId, customer, 'US', randomUUID(), new Date());
  if (!mapped.ok) throw new Error(mapped.reason);
  await withShop(db.workerDb, shop.shopId, (tx) => upsertContacts(tx, shop.shopId, [mapped.row], new Date(), { source: 'shopify' }));
  t.equal((await contactRow(shop.shopId, c.id)).state, 'unsubscribed', "Shopify's opt-out applied");
  t.same(await pushJobs(shop.shopId), [], 'a change from Shopify never echoes back');
  t.match(await push(shop, c.id), { outcome: 'skipped', reason: 'from shopify' }, 'a job that finds a Shopify change last pushes nothing');
  t.equal(mutationsFor(c.gid).length, 0);
});

t.test('Shopify answering 500: the job throws (graphile-worker retries) and the local opt-out stands; the retry pushes', async (t) => {
  const shop = await shopifyShop();
  const c = await linkedContact(shop);
  await inbound(shop, c.phone, 'STOP');
  fake.admin.failNext(500);
  await t.rejects(push(shop, c.id), { name: 'ShopifyAdminError', code: 'HTTP_STATUS', status: 500 });
  t.equal((await contactRow(shop.shopId, c.id)).state, 'unsubscribed', 'the opt-out committed before the job ran');
  t.equal(consentIn(shop, c.gid)?.marketingState, 'SUBSCRIBED');
  t.same(await audits(shop.shopId, c.id), [], 'a retryable failure is not a final outcome');
  t.match(await push(shop, c.id), { outcome: 'pushed', state: 'UNSUBSCRIBED' });
  t.equal(consentIn(shop, c.gid)?.marketingState, 'UNSUBSCRIBED');

  // On the job's last attempt the failure is recorded instead.
  await inbound(shop, c.phone, 'START');
  fake.admin.failNext(503);
  t.match(await push(shop, c.id, { lastAttempt: true }), { outcome: 'failed' });
  t.match((await audits(shop.shopId, c.id)).at(-1), { action: 'shopify.consent_push_failed', result: 'failure', metadata: { status: 503, retryable: true } });
});

t.test('permanent refusals are recorded, not retried: the customer gone in Shopify, a revoked token; an uninstalled shop is skipped', async (t) => {
  const shop = await shopifyShop();
  const gone = await linkedContact(shop);
  await inbound(shop, gone.phone, 'STOP');
  fake.admin.deleteCustomer(shop.domain, gone.gid);
  t.match(await push(shop, gone.id), { outcome: 'failed', reason: /USER_ERRORS|user error/ });
  t.match(await audits(shop.shopId, gone.id), [{ action: 'shopify.consent_push_failed', result: 'failure', metadata: { code: 'USER_ERRORS', retryable: false } }]);

  const revoked = await linkedContact(shop);
  await inbound(shop, revoked.phone, 'STOP');
  fake.admin.revoke(shop.domain);
  t.match(await push(shop, revoked.id), { outcome: 'failed' });
  t.match(await audits(shop.shopId, revoked.id), [{ action: 'shopify.consent_push_failed', metadata: { code: 'HTTP_STATUS', status: 401, retryable: false } }]);
  t.equal((await contactRow(shop.shopId, revoked.id)).state, 'unsubscribed');

  await db.admin.query('update app.shops set shopify_access_token = null where id = $1', [shop.shopId]);
  t.match(await push(shop, revoked.id), { outcome: 'skipped', reason: 'not installed' });
});

t.test('a change committed while the push is on its way is pushed as well (no stale state left in Shopify)', async (t) => {
  const shop = await shopifyShop();
  const c = await linkedContact(shop);
  await inbound(shop, c.phone, 'STOP');
  const result = await push(shop, c.id, {
    afterPush: async (n) => {
      // The customer texts START between the first push and the job's check.
      if (n === 1) await inbound(shop, c.phone, 'START');
    },
  });
  t.match(result, { outcome: 'pushed', state: 'SUBSCRIBED', pushes: 2 });
  t.same(
    mutationsFor(c.gid).map((m) => (m.variables.input as { smsMarketingConsent: { marketingState: string } }).smsMarketingConsent.marketingState),
    ['UNSUBSCRIBED', 'SUBSCRIBED'],
  );
  t.equal(consentIn(shop, c.gid)?.marketingState, 'SUBSCRIBED');
  t.equal((await contactRow(shop.shopId, c.id)).state, 'subscribed');
});

t.test('through graphile-worker: the task runs the committed job, and the customer is UNSUBSCRIBED in Shopify', async (t) => {
  const shop = await shopifyShop();
  const c = await linkedContact(shop);
  await inbound(shop, c.phone, 'STOP');
  t.equal((await pushJobs(shop.shopId, c.id)).length, 1);
  // Only this shop's job runs here (earlier tests left theirs for the workflow calls).
  await db.admin.query(`delete from graphile_worker._private_jobs where key is null or key not like $1`, [`${shop.shopId}:%`]);
  setWorkerDb(db.workerDb);
  setWorkerShopifyAdmin(admin);
  setWorkerKeyRing(keyRing);
  t.teardown(() => {
    setWorkerDb(undefined);
    setWorkerShopifyAdmin(undefined);
    setWorkerKeyRing(undefined);
  });
  await runDueJobs(db, await loadTaskList());
  t.same(await pushJobs(shop.shopId, c.id), [], 'the job completed');
  t.equal(consentIn(shop, c.gid)?.marketingState, 'UNSUBSCRIBED');
  t.match(await audits(shop.shopId, c.id), [{ action: 'shopify.consent_pushed', result: 'success' }]);
});
