// Pigeon's Shopify webhook subscriptions: the install (and every reinstall) adds, in its own
// transaction, a job that lists the shop's subscriptions and creates only the missing ones.
// Against the fake Admin API, through graphile-worker itself: the install makes the six, a
// second run makes none, a reinstall re-creates one that was deleted, and a Shopify 5xx
// fails the job (retried by graphile-worker), whose retry creates nothing twice.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { startFakeShopify } from './helpers/fake-shopify.js';
import { oauthQueryString, signOAuthQuery } from './helpers/shopify-signing.js';
import { loadTaskList } from '../src/task-list.js';
import { setWorkerDb, setWorkerShopifySubscriptions } from '../src/worker-context.js';
import { withShop } from '../src/db/with-shop.js';
import { addShopJob } from '../src/jobs/catalogue.js';
import { shopifyAdminFromConfig, webhookSubscriptionCreate } from '../src/providers/shopify-admin.js';
import { ensureWebhookSubscriptions, shopifyWebhookUri, WEBHOOK_TOPICS, type SubscriptionDependencies } from '../src/modules/shopify/webhook-subscriptions.js';
import { runDueJobs } from './helpers/run-jobs.js';

const API_KEY = 'pigeon-test-app';
const API_SECRET = 'shpss_0123456789abcdef0123456789abcdef';
const PUBLIC_BASE_URL = 'https://pigeon.example';
const URI = `${PUBLIC_BASE_URL}/webhooks/shopify`;
const db = await createTestDatabase(t);
const fake = await startFakeShopify(API_KEY, API_SECRET);
t.teardown(() => fake.close());
const { app } = await buildTestApp(t, db.apiDb, {
  SHOPIFY_API_KEY: API_KEY,
  SHOPIFY_API_SECRET: API_SECRET,
  SHOPIFY_ADMIN_URL: fake.adminUrlTemplate,
  PUBLIC_BASE_URL,
});
const admin = shopifyAdminFromConfig({ shopifyAdminUrl: fake.adminUrlTemplate, shopifyApiVersion: '2025-10', shopifyApiTimeoutMs: 5000 });
t.teardown(() => admin.close());
const deps: SubscriptionDependencies = { db: db.workerDb, ring: app.keyRing, admin, uri: shopifyWebhookUri(PUBLIC_BASE_URL) };
setWorkerDb(db.workerDb);
setWorkerShopifySubscriptions(deps);
t.teardown(() => {
  setWorkerShopifySubscriptions(undefined);
  setWorkerDb(undefined);
});
const taskList = await loadTaskList();

let ip = 0;
const newShop = () => `shop-${randomUUID().slice(0, 8)}.myshopify.com`;

/** The whole OAuth install as a browser does it; returns the shop's id. */
async function install(shop: string): Promise<string> {
  const start = await app.inject({ url: `/api/v1/shopify/install?shop=${shop}`, remoteAddress: `198.51.100.${++ip % 250}` });
  const state = new URL(start.headers.location as string).searchParams.get('state')!;
  const cookie = [start.headers['set-cookie']].flat().find((c) => c?.startsWith('pigeon_shopify_state='))!.split(';')[0]!;
  const { code } = fake.approve(shop);
  const params = { code, shop, state, timestamp: String(Math.floor(Date.now() / 1000)) };
  const res = await app.inject({ url: `/api/v1/shopify/callback?${oauthQueryString(signOAuthQuery(params, API_SECRET))}`, headers: { cookie }, remoteAddress: `198.51.100.${++ip % 250}` });
  if (res.statusCode !== 302) throw new Error(`callback: ${res.statusCode} ${res.body}`);
  const { rows } = await db.admin.query('select id from app.shops where shopify_domain = $1', [shop]);
  return rows[0].id as string;
}

interface JobRow {
  identifier: string;
  key: string | null;
  payload: { shopId: string };
  priority: number;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
}
async function jobsOf(shopId: string): Promise<JobRow[]> {
  const { rows } = await db.admin.query(
    `select t.identifier, j.key, j.payload, j.priority, j.attempts, j.max_attempts, j.last_error
       from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
      where j.payload->>'shopId' = $1 order by j.id`,
    [shopId],
  );
  return rows;
}
/** Runs every job that is due (test/helpers/run-jobs.ts waits for runOnce's last completion). */
const work = () => runDueJobs(db, taskList);
/** A failed job waits for its backoff; make it due now. */
const dueNow = (shopId: string) => db.admin.query(`update graphile_worker._private_jobs set run_at = now() where payload->>'shopId' = $1`, [shopId]);
const subscriptions = (shop: string) => fake.admin.webhookSubscriptions(shop);
const mutationsOf = (shop: string) => fake.admin.mutations.filter((m) => m.shop === shop && m.operation === 'webhookSubscriptionCreate');
const requestsOf = (shop: string) => fake.admin.requests.filter((r) => r.shop === shop);

t.test('the install adds the job in its transaction, and the job makes the six subscriptions', async (t) => {
  const shop = newShop();
  const shopId = await install(shop);
  t.same(requestsOf(shop), [], 'the callback itself never calls the Admin API');
  const jobs = await jobsOf(shopId);
  t.equal(jobs.length, 1);
  t.match(jobs[0], { identifier: 'shopify_webhook_subscriptions', key: `${shopId}:shopify:webhook_subscriptions`, payload: { shopId }, priority: 0 });

  await work();
  t.same(await jobsOf(shopId), [], 'the job completed');
  const made = subscriptions(shop);
  t.same(made.map((s) => s.topic).sort(), [...WEBHOOK_TOPICS].sort(), 'one per topic');
  t.ok(made.every((s) => s.uri === URI && s.format === 'JSON'), `all JSON to ${URI}`);
  t.same(
    requestsOf(shop).map((r) => r.operation),
    ['webhookSubscriptions', ...WEBHOOK_TOPICS.map(() => 'webhookSubscriptionCreate')],
    'one listing, then one create per missing topic',
  );

  t.test('running it again creates nothing', async (t) => {
    const mutations = mutationsOf(shop).length;
    await withShop(db.apiDb, shopId, (tx) => addShopJob(tx, 'shopify_webhook_subscriptions', { shopId }));
    await work();
    t.same(await jobsOf(shopId), []);
    t.equal(mutationsOf(shop).length, mutations, 'no create was sent');
    t.equal(subscriptions(shop).length, WEBHOOK_TOPICS.length, 'no duplicates');
    t.same(await ensureWebhookSubscriptions(deps, shopId), { outcome: 'checked', created: [], present: WEBHOOK_TOPICS.length });
  });
});

t.test('a reinstall re-checks: a deleted subscription is re-created, the others are kept', async (t) => {
  const shop = newShop();
  const shopId = await install(shop);
  await work();
  const before = subscriptions(shop);
  const removed = before.find((s) => s.topic === 'ORDERS_CREATE')!;
  t.ok(fake.admin.deleteWebhookSubscription(shop, removed.id));
  // The app's subscription to another address (an old host) is neither counted nor touched.
  const token = fake.admin.grant(shop);
  await webhookSubscriptionCreate(admin.forShop(shop, token), { topic: 'ORDERS_CREATE', uri: 'https://old-host.example/webhooks/shopify' });

  const reinstalledId = await install(shop);
  t.equal(reinstalledId, shopId, 'the same shop');
  t.equal((await jobsOf(shopId)).length, 1, 'the reinstall added the job');
  await work();
  const after = subscriptions(shop);
  const ours = after.filter((s) => s.uri === URI);
  t.same(ours.map((s) => s.topic).sort(), [...WEBHOOK_TOPICS].sort(), 'all six again, once each');
  const recreated = ours.find((s) => s.topic === 'ORDERS_CREATE')!;
  t.not(recreated.id, removed.id, 'ORDERS_CREATE was created anew');
  t.same(
    ours.filter((s) => s.topic !== 'ORDERS_CREATE').map((s) => s.id).sort(),
    before.filter((s) => s.topic !== 'ORDERS_CREATE').map((s) => s.id).sort(),
    'the five present ones are the same subscriptions',
  );
  t.ok(after.some((s) => s.uri === 'https://old-host.example/webhooks/shopify'), 'the other address is left alone');
});

t.test('a Shopify 5xx fails the job, which graphile-worker retries; the retry creates only what is still missing', async (t) => {
  const shop = newShop();
  const shopId = await install(shop);
  // The listing and the first create go through; the second create meets a 503.
  fake.admin.faults.push({ kind: 'delay', ms: 0 }, { kind: 'delay', ms: 0 }, { kind: 'status', status: 503 });
  await work();
  const [failed] = await jobsOf(shopId);
  t.ok(failed, 'the job is still there, to be retried');
  t.equal(failed!.attempts, 1);
  t.ok(failed!.max_attempts > 1, 'with retries left');
  t.match(failed!.last_error, /503/);
  t.same(subscriptions(shop).map((s) => s.topic), [WEBHOOK_TOPICS[0]], 'only the first create happened');

  await dueNow(shopId);
  await work();
  t.same(await jobsOf(shopId), [], 'the retry succeeded');
  const made = subscriptions(shop);
  t.same(made.map((s) => s.topic).sort(), [...WEBHOOK_TOPICS].sort(), 'six, none twice');
  t.equal(mutationsOf(shop).length, WEBHOOK_TOPICS.length, 'each topic was created exactly once across both attempts');
});

t.test('a Shopify outage during the whole job creates nothing and leaves the job to retry', async (t) => {
  const shop = newShop();
  const shopId = await install(shop);
  fake.admin.failNext(502);
  await work();
  t.equal((await jobsOf(shopId))[0]?.attempts, 1);
  t.same(subscriptions(shop), [], 'nothing was created');
  await dueNow(shopId);
  await work();
  t.equal(subscriptions(shop).length, WEBHOOK_TOPICS.length);
});

t.test('an uninstalled shop, or a revoked token, ends the job without calling Shopify again', async (t) => {
  const shop = newShop();
  const shopId = await install(shop);
  await db.admin.query(`update app.shops set uninstalled_at = now(), shopify_access_token = null where id = $1`, [shopId]);
  const requests = requestsOf(shop).length;
  await work();
  t.same(await jobsOf(shopId), [], 'done, not failed');
  t.equal(requestsOf(shop).length, requests, 'no request for an uninstalled shop');

  const other = newShop();
  const otherId = await install(other);
  fake.admin.revoke(other);
  t.same(await ensureWebhookSubscriptions(deps, otherId), { outcome: 'unauthorized' });
  await work();
  t.same(await jobsOf(otherId), [], 'a 401 is not retried: a reinstall adds the job again');
  t.same(subscriptions(other), []);
});
