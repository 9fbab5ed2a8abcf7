// The Shopify customer backfill against the fake Shopify (a real HTTP server on 127.0.0.1):
// 2,000 customers become contacts with their consent and customer ids; a second sync
// updates them instead of duplicating; a Shopify "subscribed" older than a STOP does not
// re-subscribe; a sync killed halfway resumes with no duplicates and valid consent chains
// (and one whose bulk result is gone runs the operation again); the job waits for Shopify by
// re-adding itself; one sync at a time per shop; members get 403, shops without Shopify 409.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp, type Account } from './helpers/accounts.js';
import { generatedCustomer, type FakeCustomer } from './helpers/fake-shopify-admin.js';
import { withShop } from '../src/db/with-shop.js';
import { bulkOperationRunQuery } from '../src/providers/shopify-admin.js';
import { storeShopifyAccessToken } from '../src/modules/shopify/access-token.js';
import { runShopifySync, type SyncOptions } from '../src/modules/shopify/sync-job.js';
import { verifyShopChains } from '../src/modules/contacts/consent-chain.js';
import { startWorker } from '../src/worker.js';
import { setWorkerKeyRing, setWorkerShopifyAdmin } from '../src/worker-context.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { recordConsentChange } from '../src/modules/contacts/consent.js';
import { consentFromShopify, customerFromWebhook, customerToContactRow, shopifyCustomerNumber } from '../src/modules/contacts/shopify-customer.js';
import { fakeShopifyFor } from './helpers/shopify-fixtures.js';

const db = await createTestDatabase(t);
const kit = await fakeShopifyFor(t);
const { fake, keyRing, admin, deps } = kit;
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', ...kit.env });

interface ShopifyShop extends Account {
  domain: string;
}

/** A shop as the install leaves it: its myshopify domain and its token, encrypted; the fake grants the token. */
async function shopifyShop(): Promise<ShopifyShop> {
  const account = await signUp(app);
  const domain = `sync-${randomUUID().slice(0, 8)}.myshopify.com`;
  await db.admin.query('update app.shops set shopify_domain = $2 where id = $1', [account.shopId, domain]);
  const token = fake.admin.grant(domain);
  await withShop(db.apiDb, account.shopId, (tx) => storeShopifyAccessToken(tx, keyRing, account.shopId, token));
  return { ...account, domain };
}

const start = (who: { headers: Record<string, string> }) => app.inject({ method: 'POST', url: '/api/v1/shopify/sync', headers: who.headers });
const progress = (who: { headers: Record<string, string> }) => app.inject({ url: '/api/v1/shopify/sync', headers: who.headers });
const run = (shop: ShopifyShop, syncId: string, opts: SyncOptions = {}) => runShopifySync(db.workerDb, deps, shop.shopId, syncId, { pollIntervalMs: 1, ...opts });

/** Starts a sync through the API and runs its job to the end. */
async function sync(shop: ShopifyShop, opts: SyncOptions = {}) {
  const res = await start(shop);
  if (res.statusCode !== 202) throw new Error(`start: ${res.statusCode} ${res.body}`);
  const id = res.json().id as string;
  const outcome = await run(shop, id, opts);
  return { id, outcome };
}

async function contacts(shopId: string) {
  const { rows } = await db.admin.query(
    `select id, phone_e164, first_name, consent_state::text, shopify_customer_id::text as customer_id, tags from app.contacts where shop_id = $1 and deleted_at is null order by shopify_customer_id`,
    [shopId],
  );
  return rows as Array<{ id: string; phone_e164: string; first_name: string; consent_state: string; customer_id: string; tags: string[] }>;
}
const chains = (shopId: string) => withShop(db.workerDb, shopId, (tx) => verifyShopChains(tx, shopId));

/** Generated customers, every hundredth without a phone. */
const withSomeWithoutPhone = (index: number, id: string): FakeCustomer => ({ ...generatedCustomer(index, id), phone: index % 100 === 0 ? null : generatedCustomer(index, id).phone });

t.test('the mapping: ids, phones, consent states and opt-in levels; a webhook payload maps the same', async (t) => {
  const shopId = randomUUID();
  t.equal(shopifyCustomerNumber('gid://shopify/Customer/123'), '123');
  t.equal(shopifyCustomerNumber(456), '456');
  t.equal(shopifyCustomerNumber('gid://shopify/Order/1'), null);
  t.equal(shopifyCustomerNumber('99999999999999999999'), null, 'beyond bigint');
  t.same(['SUBSCRIBED', 'UNSUBSCRIBED', 'REDACTED', 'NOT_SUBSCRIBED', 'PENDING', 'INVALID', 'subscribed'].map(consentFromShopify), ['subscribed', 'unsubscribed', 'unsubscribed', null, null, null, 'subscribed']);
  const base = { id: 'gid://shopify/Customer/7', firstName: ' Ann ', lastName: null, tags: ['VIP', ' vip', 'x\u0000y'], smsMarketingConsent: null };
  const local = customerToContactRow(shopId, { ...base, phone: '(212) 555-0101' }, 'US', randomUUID(), new Date());
  t.match(local, { ok: true, row: { phone: '+12125550101', country: 'US', firstName: 'Ann', tags: ['vip', 'xy'], shopifyCustomerId: '7', consent: null, consentAt: null, firstLink: { state: 'never', source: 'shopify', actor_kind: 'shopify' } } });
  t.match(customerToContactRow(shopId, { ...base, phone: null }, 'US', randomUUID(), new Date()), { ok: false, reason: 'missing phone number' });
  t.match(customerToContactRow(shopId, { ...base, phone: '12' }, 'US', randomUUID(), new Date()), { ok: false, reason: 'invalid phone number' });
  const consent = { marketingState: 'SUBSCRIBED', marketingOptInLevel: 'CONFIRMED_OPT_IN', consentUpdatedAt: '2025-01-02T03:04:05Z', consentCollectedFrom: 'SHOPIFY' };
  t.match(customerToContactRow(shopId, { ...base, phone: '+33612345678', smsMarketingConsent: consent }, 'US', randomUUID(), new Date()), {
    ok: true,
    row: { phone: '+33612345678', consent: 'subscribed', optInLevel: 'CONFIRMED_OPT_IN', consentAt: new Date('2025-01-02T03:04:05Z'), firstLink: { state: 'subscribed', opt_in_level: 'CONFIRMED_OPT_IN' } },
  });
  const hook = customerFromWebhook({
    id: 7,
    phone: '+12125550101',
    first_name: 'Ann',
    last_name: 'Lee',
    tags: 'vip, boston',
    sms_marketing_consent: { state: 'unsubscribed', opt_in_level: 'single_opt_in', consent_updated_at: '2025-02-01T00:00:00-05:00', consent_collected_from: 'OTHER' },
  });
  t.match(customerToContactRow(shopId, hook, 'US', randomUUID(), new Date()), { ok: true, row: { shopifyCustomerId: '7', consent: 'unsubscribed', optInLevel: 'SINGLE_OPT_IN', tags: ['vip', 'boston'], lastName: 'Lee' } });
});

t.test('a backfill of 2,000 customers: contacts with their consent, customer ids and opt-in levels; progress and audit', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 2000, { make: withSomeWithoutPhone });
  const { id, outcome } = await sync(shop, { batchSize: 300 });
  t.equal(outcome, 'done');
  const view = (await progress(shop)).json();
  t.match(view, { id, status: 'done', customersTotal: 2000, customersRead: 2000, inserted: 1980, updated: 0, skipped: 20, restarts: 0, error: null, startedAt: String, finishedAt: String });
  const rows = await contacts(shop.shopId);
  t.equal(rows.length, 1980);
  t.equal(new Set(rows.map((r) => r.customer_id)).size, 1980, 'one contact per customer');
  const byCustomer = new Map(rows.map((r) => [r.customer_id, r]));
  t.match(byCustomer.get('3'), { phone_e164: '+12122000003', first_name: 'First3', consent_state: 'subscribed', tags: ['vip', 'newsletter'] });
  t.match(byCustomer.get('1'), { consent_state: 'never' }, 'NOT_SUBSCRIBED: never');
  t.match(byCustomer.get('2'), { consent_state: 'unsubscribed' });
  t.notOk(byCustomer.has('100'), 'no phone, no contact');
  const counts = Object.fromEntries(
    (await db.admin.query(`select consent_state::text as s, count(*)::int as n from app.contacts where shop_id = $1 group by 1`, [shop.shopId])).rows.map((r) => [r.s, r.n]),
  );
  t.same(counts, { subscribed: 980, never: 500, unsubscribed: 500 });
  const links = (
    await db.admin.query(
      `select e.source::text, e.actor_kind, e.opt_in_level, count(*)::int as n from app.consent_events e join app.contacts c on c.shop_id = e.shop_id and c.id = e.contact_id
        where e.shop_id = $1 and c.shopify_customer_id in (3, 4) group by 1, 2, 3 order by 3`,
      [shop.shopId],
    )
  ).rows;
  t.same(links, [
    { source: 'shopify', actor_kind: 'shopify', opt_in_level: 'CONFIRMED_OPT_IN', n: 1 },
    { source: 'shopify', actor_kind: 'shopify', opt_in_level: 'SINGLE_OPT_IN', n: 1 },
  ]);
  t.match(await chains(shop.shopId), { ok: true, contacts: 1980, events: 1980 });
  const audits = (await db.admin.query(`select action, result, metadata from app.audit_events where shop_id = $1 and action like 'shopify.sync%' order by created_at`, [shop.shopId])).rows;
  t.match(audits, [
    { action: 'shopify.sync_started', result: 'success' },
    { action: 'shopify.sync_finished', result: 'success', metadata: { inserted: 1980, skipped: 20, customersRead: 2000 } },
  ]);
  t.equal(fake.admin.downloads.finished >= 1, true, 'the result was streamed to its end');

  t.test('a second sync updates the same contacts instead of duplicating them, and follows a changed phone', async (t) => {
    const changed = generatedCustomer(5, 'gid://shopify/Customer/5');
    fake.admin.putCustomer(shop.domain, { ...changed, firstName: 'Renamed', phone: '+12125550999', tags: ['moved'] });
    const second = await sync(shop, { batchSize: 700 });
    t.equal(second.outcome, 'done');
    t.match((await progress(shop)).json(), { id: second.id, status: 'done', inserted: 0, updated: 1980, skipped: 20 });
    const after = await contacts(shop.shopId);
    t.equal(after.length, 1980);
    const five = after.find((r) => r.customer_id === '5')!;
    t.match(five, { id: byCustomer.get('5')!.id, phone_e164: '+12125550999', first_name: 'Renamed' }, 'matched by customer id: same contact, new phone');
    t.same(five.tags, ['moved'], "Shopify's tags are added");
    t.match(await chains(shop.shopId), { ok: true, contacts: 1980, events: 1980 }, 'nothing changed consent: no new link');
  });
});

t.test('a Shopify "subscribed" older than a STOP in Pigeon does not re-subscribe; a newer one does', async (t) => {
  const shop = await shopifyShop();
  const id = 'gid://shopify/Customer/42';
  const customer: FakeCustomer = {
    id,
    firstName: 'Stop',
    lastName: 'Per',
    phone: '+12125550142',
    tags: [],
    updatedAt: '2024-05-01T00:00:00Z',
    smsMarketingConsent: { marketingState: 'SUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN', consentUpdatedAt: '2024-05-01T00:00:00Z', consentCollectedFrom: 'SHOPIFY' },
  };
  fake.admin.generateCustomers(shop.domain, 0);
  fake.admin.putCustomer(shop.domain, customer);
  await sync(shop);
  const [contact] = await contacts(shop.shopId);
  t.equal(contact!.consent_state, 'subscribed');
  // The person texts STOP (what the inbound webhook does for the keyword).
  t.equal(await withShop(db.workerDb, shop.shopId, (tx) => recordConsentChange(tx, { shopId: shop.shopId, contactId: contact!.id, state: 'unsubscribed', source: 'keyword', actor: { kind: 'contact' } })), 'changed');
  await sync(shop);
  t.equal((await contacts(shop.shopId))[0]!.consent_state, 'unsubscribed', 'Shopify’s older subscription does not undo the STOP');
  // Shopify's UNSUBSCRIBED from before the STOP changes nothing either (already unsubscribed); a newer opt-in in Shopify does.
  fake.admin.putCustomer(shop.domain, { ...customer, smsMarketingConsent: { ...customer.smsMarketingConsent!, marketingOptInLevel: 'CONFIRMED_OPT_IN', consentUpdatedAt: new Date(Date.now() + 60_000).toISOString() } });
  await sync(shop);
  t.equal((await contacts(shop.shopId))[0]!.consent_state, 'subscribed', 'a newer explicit opt-in in Shopify re-subscribes');
  const history = (await db.admin.query(`select state::text, source::text, opt_in_level from app.consent_events where shop_id = $1 order by seq`, [shop.shopId])).rows;
  t.same(history, [
    { state: 'subscribed', source: 'shopify', opt_in_level: 'SINGLE_OPT_IN' },
    { state: 'unsubscribed', source: 'keyword', opt_in_level: null },
    { state: 'subscribed', source: 'shopify', opt_in_level: 'CONFIRMED_OPT_IN' },
  ]);
  t.match(await chains(shop.shopId), { ok: true, events: 3 });
});

t.test('a contact created in Pigeon is matched by phone and takes its customer id; one suppressed by STOP is created unsubscribed', async (t) => {
  const shop = await shopifyShop();
  await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: shop.headers, payload: { phone: '+12122000001', firstName: 'Before' } });
  await db.admin.query(`insert into app.suppressed_phones (shop_id, phone_e164, source) values ($1, '+12122000004', 'keyword')`, [shop.shopId]);
  fake.admin.generateCustomers(shop.domain, 4);
  const { outcome } = await sync(shop);
  t.equal(outcome, 'done');
  t.match((await progress(shop)).json(), { inserted: 3, updated: 1 });
  const rows = await contacts(shop.shopId);
  t.equal(rows.length, 4);
  t.match(rows[0], { customer_id: '1', phone_e164: '+12122000001', first_name: 'First1' });
  t.match(rows[3], { customer_id: '4', consent_state: 'unsubscribed' }, 'Shopify says subscribed; the phone texted STOP');
  t.match(await chains(shop.shopId), { ok: true });
});

t.test('a sync killed halfway resumes from its checkpoint: no duplicates, valid chains, one bulk operation', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 2500);
  const started = await start(shop);
  const id = started.json().id as string;
  await t.rejects(run(shop, id, { batchSize: 500, afterBatch: async (n) => { if (n === 2) throw new Error('killed'); } }), /killed/);
  t.match((await progress(shop)).json(), { status: 'running', customersRead: 1000, inserted: 1000 }, 'two batches committed with their checkpoint');
  t.equal((await contacts(shop.shopId)).length, 1000);
  t.equal((await start(shop)).statusCode, 409, 'still running: no second sync');
  t.equal(await run(shop, id, { batchSize: 500 }), 'done');
  t.match((await progress(shop)).json(), { status: 'done', customersRead: 2500, inserted: 2500, updated: 0, skipped: 0, restarts: 0 });
  const rows = await contacts(shop.shopId);
  t.equal(rows.length, 2500);
  t.equal(new Set(rows.map((r) => r.phone_e164)).size, 2500);
  t.match(await chains(shop.shopId), { ok: true, contacts: 2500, events: 2500 });
  t.equal(fake.admin.bulkOperations(shop.domain).length, 1, 'the resumed job read the same operation again');
  t.equal(await run(shop, id), 'already_finished', 'a finished sync does nothing');
});

t.test('a resumed sync whose bulk result is gone runs the operation again and restarts its counts, duplicating nothing', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 1200);
  const id = (await start(shop)).json().id as string;
  await t.rejects(run(shop, id, { batchSize: 400, afterBatch: async (n) => { if (n === 1) throw new Error('killed'); } }), /killed/);
  // Shopify no longer knows the operation (its result expired).
  await db.admin.query(`update app.shopify_syncs set bulk_operation_id = 'gid://shopify/BulkOperation/1' where id = $1`, [id]);
  t.equal(await run(shop, id, { batchSize: 400 }), 'done');
  t.match((await progress(shop)).json(), { status: 'done', restarts: 1, customersRead: 1200, inserted: 800, updated: 400 });
  t.equal((await contacts(shop.shopId)).length, 1200);
  t.match(await chains(shop.shopId), { ok: true, contacts: 1200, events: 1200 });
});

t.test('while Shopify still works on the bulk operation, the job re-adds itself for later instead of waiting', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 10);
  fake.admin.bulkPollsUntilComplete = 5;
  t.teardown(() => void (fake.admin.bulkPollsUntilComplete = 2));
  const id = (await start(shop)).json().id as string;
  t.equal(await run(shop, id, { pollForMs: 0 }), 'waiting');
  const { rows: jobs } = await db.admin.query(`select run_at > now() as later from graphile_worker.jobs where key = $1`, [`${shop.shopId}:shopify-sync:${id}`]);
  t.same(jobs, [{ later: true }], 'one job, due later');
  t.match((await progress(shop)).json(), { status: 'running', customersRead: 0 });
  t.equal(await run(shop, id), 'done', 'the next run finds it finished');
  t.equal(fake.admin.bulkOperations(shop.domain).length, 1);
  t.equal((await contacts(shop.shopId)).length, 10);
});

t.test('a revoked token fails the sync (audited), and the shop can start another', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 5);
  fake.admin.revoke(shop.domain);
  const { id, outcome } = await sync(shop);
  t.equal(outcome, 'failed');
  t.match((await progress(shop)).json(), { id, status: 'failed', error: /Shopify.*401/ });
  const { rows } = await db.admin.query(`select result from app.audit_events where shop_id = $1 and action = 'shopify.sync_finished'`, [shop.shopId]);
  t.same(rows, [{ result: 'failure' }]);
  t.equal((await start(shop)).statusCode, 202);
});

t.test('one sync at a time per shop: concurrent starts give one 202 and one 409', async (t) => {
  const shop = await shopifyShop();
  const answers = await Promise.all([start(shop), start(shop)]);
  t.same(answers.map((a) => a.statusCode).sort(), [202, 409]);
  const refused = answers.find((a) => a.statusCode === 409)!;
  t.equal(refused.json().error.code, 'SHOPIFY_SYNC_RUNNING');
  t.equal((await start(shop)).statusCode, 409, 'and again while it is queued');
  const { rows } = await db.admin.query(`select count(*)::int as n from app.shopify_syncs where shop_id = $1`, [shop.shopId]);
  t.equal(rows[0].n, 1);
});

t.test('members may not start or read a sync; a shop not installed from Shopify gets 409; before any sync, 404', async (t) => {
  const shop = await shopifyShop();
  t.equal((await progress(shop)).statusCode, 404);
  const member = await signUp(app);
  await db.admin.query(`insert into app.memberships (shop_id, user_id, role) values ($1, $2, 'member')`, [shop.shopId, member.userId]);
  const switched = await app.inject({ method: 'POST', url: `/api/v1/shops/${shop.shopId}/switch`, headers: member.headers });
  const asMember = { headers: { authorization: `Bearer ${switched.json().accessToken}` } };
  t.equal((await start(asMember)).statusCode, 403);
  t.equal((await progress(asMember)).statusCode, 403);
  const plain = await signUp(app);
  const refused = await start(plain);
  t.equal(refused.statusCode, 409);
  t.equal(refused.json().error.code, 'SHOPIFY_NOT_INSTALLED');
  // A Shopify shop whose token was erased (uninstalled) is refused the same way.
  await db.admin.query('update app.shops set shopify_access_token = null where id = $1', [shop.shopId]);
  t.equal((await start(shop)).json().error.code, 'SHOPIFY_NOT_INSTALLED');
  t.equal((await start({ headers: {} })).statusCode, 401);
});

t.test("a redacted contact lets go of its customer id (the tombstone keeps no link to the person)", async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 3);
  await sync(shop);
  const [first] = await contacts(shop.shopId);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/contacts/${first!.id}`, headers: shop.headers })).statusCode, 204);
  const { rows } = await db.admin.query('select shopify_customer_id, phone_e164 from app.contacts where id = $1', [first!.id]);
  t.same(rows, [{ shopify_customer_id: null, phone_e164: null }]);
});

t.test('a bulk operation already running for the app (started by an attempt that crashed before recording it) is adopted, not doubled', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 50);
  const token = fake.admin.grant(shop.domain);
  const orphan = await bulkOperationRunQuery(admin.forShop(shop.domain, token));
  const { outcome } = await sync(shop);
  t.equal(outcome, 'done');
  t.same(fake.admin.bulkOperations(shop.domain).map((b) => b.id), [orphan.id], 'one operation: the running one');
  const { rows } = await db.admin.query('select bulk_operation_id from app.shopify_syncs where shop_id = $1', [shop.shopId]);
  t.same(rows, [{ bulk_operation_id: orphan.id }]);
  t.equal((await contacts(shop.shopId)).length, 50);
});

t.test('end to end: the POST adds the job and the real worker runs it to done', async (t) => {
  const shop = await shopifyShop();
  fake.admin.generateCustomers(shop.domain, 300);
  setWorkerShopifyAdmin(admin);
  setWorkerKeyRing(keyRing);
  const worker = await startWorker({ connectionString: db.workerUrl, concurrency: 1, poolSize: 3, logger: createLogger('silent'), metrics: createMetrics(), crontab: false });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await worker.stop();
  };
  t.teardown(async () => {
    await stop();
    setWorkerShopifyAdmin(undefined);
    setWorkerKeyRing(undefined);
  });
  const id = (await start(shop)).json().id as string;
  // Waits for the job to finish (Shopify's fake completes the operation on its second poll, 2 s apart).
  let view = (await progress(shop)).json();
  for (let i = 0; i < 300 && (view.status === 'queued' || view.status === 'running'); i++) {
    await new Promise((r) => setTimeout(r, 50));
    view = (await progress(shop)).json();
  }
  t.match(view, { id, status: 'done', customersRead: 300, inserted: 300 });
  // graphile-worker records a job's completion after the task returns (batched): stopping the
  // worker flushes it, so the job row is checked after the stop, not raced.
  await stop();
  const { rows } = await db.admin.query(`select count(*)::int as n from graphile_worker.jobs where key = $1`, [`${shop.shopId}:shopify-sync:${id}`]);
  t.equal(rows[0].n, 0, 'the job is gone');
});
