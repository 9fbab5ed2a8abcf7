// The Shopify Admin GraphQL client against the fake Shopify (a real HTTP server on
// 127.0.0.1): each operation issue 13 needs, a 100,000-customer bulk result read as a stream,
// Shopify's throttling waited out, and every failure typed without the token or the answer in
// its message. No database.
import t, { type Test } from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { verifyWebhookHmac } from '../src/lib/shopify-hmac.js';
import { exchangeAuthorizationCode } from '../src/providers/shopify.js';
import {
  appPurchaseOneTime,
  appPurchaseOneTimeCreate,
  bulkOperation,
  bulkOperationRunQuery,
  createShopifyAdmin,
  currentBulkOperation,
  customerSmsMarketingConsentUpdate,
  listWebhookSubscriptions,
  retryAfterMs,
  ShopifyAdminError,
  streamJsonl,
  toBulkCustomer,
  waitForBulkOperation,
  webhookSubscriptionCreate,
  type ShopifyAdminOptions,
} from '../src/providers/shopify-admin.js';
import { startFakeShopify } from './helpers/fake-shopify.js';
import { startFakeShopifyAdmin } from './helpers/fake-shopify-admin.js';
import { shopifyWebhook } from './helpers/shopify-signing.js';

const shop = 'pigeon-admin.myshopify.com';
const otherShop = 'pigeon-other.myshopify.com';
const apiVersion = '2025-10';

const fake = await startFakeShopifyAdmin();
t.teardown(() => fake.close());
const token = fake.grant(shop);
const otherToken = fake.grant(otherShop);

/** A client whose waits are recorded (and really waited). */
function adminWith(t: Test, options: Partial<ShopifyAdminOptions> = {}) {
  const waits: number[] = [];
  const admin = createShopifyAdmin({
    adminUrlTemplate: fake.adminUrlTemplate,
    apiVersion,
    timeoutMs: 5_000,
    sleep: async (ms) => {
      waits.push(ms);
      await sleepFor(ms);
    },
    ...options,
  });
  t.teardown(() => admin.close());
  return { admin, waits, client: admin.forShop(shop, token) };
}

async function failure(promise: Promise<unknown>): Promise<ShopifyAdminError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ShopifyAdminError) return error;
    throw error;
  }
  throw new Error('expected a ShopifyAdminError, got success');
}

/** Nothing secret or received in an error's message. */
function clean(t: Test, error: Error, ...secrets: string[]) {
  for (const secret of [token, ...secrets]) t.notMatch(error.message, secret, 'the message holds neither token nor answer');
}

t.beforeEach(() => {
  fake.faults.length = 0;
});

t.test("a customer's SMS consent update reaches Shopify and is recorded", async (t) => {
  fake.generateCustomers(shop, 10);
  const { client } = adminWith(t);
  const customerId = 'gid://shopify/Customer/4'; // generated SUBSCRIBED, CONFIRMED_OPT_IN
  t.equal(fake.customer(shop, customerId)?.smsMarketingConsent?.marketingState, 'SUBSCRIBED');
  const before = fake.requests.length;

  const updated = await customerSmsMarketingConsentUpdate(client, {
    customerId,
    smsMarketingConsent: { marketingState: 'UNSUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN', consentUpdatedAt: '2025-11-02T10:00:00Z' },
  });
  t.equal(updated.id, customerId);
  t.equal(updated.smsMarketingConsent?.marketingState, 'UNSUBSCRIBED');
  t.equal(fake.customer(shop, customerId)?.smsMarketingConsent?.marketingState, 'UNSUBSCRIBED', 'Shopify has the customer unsubscribed');
  t.equal(fake.customer(shop, customerId)?.smsMarketingConsent?.consentUpdatedAt, '2025-11-02T10:00:00Z');
  t.match(fake.mutations.at(-1), {
    shop,
    operation: 'customerSmsMarketingConsentUpdate',
    variables: { input: { customerId, smsMarketingConsent: { marketingState: 'UNSUBSCRIBED' } } },
  });
  t.match(fake.requests.slice(before), [{ shop, version: apiVersion, operation: 'customerSmsMarketingConsentUpdate', outcome: 200 }], 'one request, to the pinned version');

  const mutationsBefore = fake.mutations.length;
  const unknown = await failure(customerSmsMarketingConsentUpdate(client, { customerId: 'gid://shopify/Customer/999999', smsMarketingConsent: { marketingState: 'UNSUBSCRIBED' } }));
  t.equal(unknown.code, 'USER_ERRORS');
  t.same(unknown.codes, ['INVALID']);
  t.match(unknown.userErrors, [{ field: ['input', 'customerId'], message: String }]);
  t.equal(unknown.retryable, false, 'a refusal is not retried');
  t.notMatch(unknown.message, 'Customer not found', "Shopify's user-error text stays on the error, out of its message");
  t.equal(fake.mutations.length, mutationsBefore, 'a refused mutation changed nothing');
});

t.test('bulk operation: run, poll until COMPLETED, stream 100,000 customers with bounded memory', async (t) => {
  const count = 100_000;
  fake.generateCustomers(shop, count);
  fake.bulkPollsUntilComplete = 3;
  const { client } = adminWith(t);

  const started = await bulkOperationRunQuery(client);
  t.match(started, { id: /^gid:\/\/shopify\/BulkOperation\/\d+$/, status: 'CREATED', url: null });
  t.match(fake.mutations.at(-1), { operation: 'bulkOperationRunQuery', variables: { query: /smsMarketingConsent/ } });

  const second = await failure(bulkOperationRunQuery(client));
  t.equal(second.code, 'USER_ERRORS', 'one bulk query at a time per shop');
  t.same(second.codes, ['OPERATION_IN_PROGRESS']);

  const seen: string[] = [];
  const done = await waitForBulkOperation(client, started.id, { intervalMs: 1, onProgress: (b) => void seen.push(b.status) });
  t.same(seen, ['RUNNING', 'RUNNING', 'COMPLETED'], 'polled until it finished');
  t.equal(done.objectCount, count);
  t.match(done.url, /^http:\/\/127\.0\.0\.1:\d+\/bulk\/[a-f0-9]+\.jsonl$/);
  t.match(await currentBulkOperation(client), { id: started.id, status: 'COMPLETED', objectCount: count });
  t.equal(await bulkOperation(admin2(t).forShop(otherShop, otherToken), started.id), null, "another shop cannot see this shop's operation");

  // The heap is measured after a full collection (garbage is not what is being bounded).
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  let peakHeapGrowth = 0;
  let lines = 0;
  let idSum = 0;
  let subscribed = 0;
  let streamingWhileServed = false;
  for await (const line of streamJsonl(done.url!)) {
    const customer = toBulkCustomer(line);
    if (!customer) continue;
    if (lines === 0) streamingWhileServed = fake.downloads.finished === 0;
    lines++;
    idSum += Number(customer.id.split('/').pop());
    if (customer.smsMarketingConsent?.marketingState === 'SUBSCRIBED') subscribed++;
    if (lines % 10_000 === 0) {
      gc();
      peakHeapGrowth = Math.max(peakHeapGrowth, process.memoryUsage().heapUsed - heapBefore);
    }
  }
  t.equal(lines, count, 'every customer, once');
  t.equal(idSum, (count * (count + 1)) / 2, 'ids 1..100,000 each exactly once');
  t.equal(subscribed, count / 2, 'their consent came along');
  t.ok(streamingWhileServed, 'the first customer arrived while the file was still being served: a stream, not a download');
  t.equal(fake.downloads.finished, 1);
  // The file is ~30 MB of text and 100,000 objects; held whole it would take several times this.
  t.ok(peakHeapGrowth < 16 * 1024 * 1024, `live heap growth while streaming stayed small (${Math.round(peakHeapGrowth / 1024 / 1024)} MiB)`);

  // Stopping early closes the download.
  let taken = 0;
  for await (const line of streamJsonl(done.url!)) {
    if (toBulkCustomer(line) && ++taken === 1000) break;
  }
  t.equal(taken, 1000);
  t.equal(fake.downloads.finished, 1, 'the second download was abandoned, not read to the end');

  const missing = await failure(streamJsonl(done.url!.replace(/[a-f0-9]{32}/, '0'.repeat(32))).next());
  t.match(missing, { code: 'HTTP_STATUS', status: 403 });
});

t.test('a failed bulk operation is reported with its error code', async (t) => {
  fake.generateCustomers(shop, 5);
  fake.bulkPollsUntilComplete = 1;
  fake.failNextBulkWith = 'INTERNAL_SERVER_ERROR';
  const { client } = adminWith(t);
  const started = await bulkOperationRunQuery(client);
  const done = await waitForBulkOperation(client, started.id, { intervalMs: 1 });
  t.match(done, { status: 'FAILED', errorCode: 'INTERNAL_SERVER_ERROR', url: null });
});

t.test('throttling: a THROTTLED answer is waited out and retried', async (t) => {
  fake.generateCustomers(shop, 10);
  const { client, waits } = adminWith(t);
  fake.throttleNext(1);
  const before = fake.requests.length;
  await customerSmsMarketingConsentUpdate(client, { customerId: 'gid://shopify/Customer/1', smsMarketingConsent: { marketingState: 'UNSUBSCRIBED' } });
  t.same(
    fake.requests.slice(before).map((r) => r.outcome),
    ['THROTTLED', 200],
    'refused once, then done',
  );
  // The fake reported an empty bucket restoring 100 points a second; the mutation costs 10.
  // 100 ms at most: the client counts what the bucket restored while the answer travelled (a loaded machine: 99).
  t.ok(waits.length === 1 && waits[0]! > 50 && waits[0]! <= 100, `waited until the bucket held the query cost (${waits.join(', ')} ms)`);
  t.equal(fake.mutations.filter((m) => m.variables.input && (m.variables.input as { customerId: string }).customerId === 'gid://shopify/Customer/1').length, 1, 'carried out once');
});

t.test('throttling: a 429 with Retry-After is waited out and retried', async (t) => {
  const { client, waits } = adminWith(t);
  fake.rateLimitNext(1);
  const before = fake.requests.length;
  const subscription = await webhookSubscriptionCreate(client, { topic: 'ORDERS_CREATE', uri: 'https://pigeon.example/webhooks/shopify' });
  t.equal(subscription.topic, 'ORDERS_CREATE');
  t.same(
    fake.requests.slice(before).map((r) => r.outcome),
    [429, 200],
  );
  t.same(waits, [1000], 'Retry-After: 1 → one second');
});

t.test('throttling: the client waits before a request the bucket cannot pay for', async (t) => {
  const { client, waits } = adminWith(t);
  fake.setBucket(shop, { currentlyAvailable: 15, restoreRate: 50, maximumAvailable: 1000 });
  t.teardown(() => fake.setBucket(shop, { currentlyAvailable: 2000, restoreRate: 100, maximumAvailable: 2000 }));
  const purchase = { name: 'Credits', price: { amount: '10.00', currencyCode: 'USD' }, returnUrl: 'https://pigeon.example/billing/return', test: true };
  const before = fake.requests.length;
  await appPurchaseOneTimeCreate(client, purchase); // costs 10: 5 left, 50 a second
  t.match(client.throttleStatus(), { maximumAvailable: 1000, restoreRate: 50 }, 'the bucket Shopify reported is kept');
  await appPurchaseOneTimeCreate(client, purchase);
  t.same(
    fake.requests.slice(before).map((r) => r.outcome),
    [200, 200],
    'never throttled',
  );
  t.equal(waits.length, 1, 'one wait, before the second request');
  t.ok(waits[0]! > 0 && waits[0]! <= 100, `for the 5 missing points at most (${waits[0]} ms)`);
});

t.test('throttling: bounded retries, and no wait longer than allowed', async (t) => {
  const { client } = adminWith(t, { maxAttempts: 3, maxWaitMs: 2_000 });
  fake.throttleNext(5);
  const before = fake.requests.length;
  const throttled = await failure(listWebhookSubscriptions(client));
  t.match(throttled, { code: 'THROTTLED', retryable: true, retryAfterMs: Number });
  t.equal(fake.requests.length - before, 3, 'three tries, then a THROTTLED error for the job to retry later');
  fake.faults.length = 0;

  fake.rateLimitNext(30);
  const tooLong = await failure(listWebhookSubscriptions(client));
  t.match(tooLong, { code: 'THROTTLED', retryAfterMs: 30_000 }, 'a 30 s Retry-After is handed back instead of waited');

  const paced = adminWith(t, { maxWaitMs: 50 });
  fake.setBucket(shop, { currentlyAvailable: 10, restoreRate: 1 });
  t.teardown(() => fake.setBucket(shop, { currentlyAvailable: 2000, restoreRate: 100, maximumAvailable: 2000 }));
  await currentBulkOperation(paced.client); // costs 1: 9 left, one point a second
  const requestsBefore = fake.requests.length;
  const wouldWait = await failure(webhookSubscriptionCreate(paced.client, { topic: 'ORDERS_PAID', uri: 'https://pigeon.example/webhooks/shopify' }));
  t.match(wouldWait, { code: 'THROTTLED', retryAfterMs: Number }, 'a mutation (10 points) would wait about a second: handed back');
  t.ok(wouldWait.retryAfterMs! > 50);
  t.equal(fake.requests.length, requestsBefore, 'without calling Shopify');

  t.equal(retryAfterMs('1.5'), 1500);
  t.equal(retryAfterMs(new Date(Date.now() + 5_000).toUTCString())! > 3_000, true, 'an HTTP date');
  t.equal(retryAfterMs('soon'), undefined);
});

t.test('typed errors: timeout, 5xx, 401, GraphQL errors, unreachable, circuit open', async (t) => {
  const { client } = adminWith(t, { timeoutMs: 300, breaker: false });

  fake.delayNext(5_000);
  const late = await failure(currentBulkOperation(client));
  t.match(late, { code: 'TIMEOUT', retryable: true, operation: 'currentBulkOperation' });
  clean(t, late);

  fake.failNext(503);
  const before = fake.requests.length;
  const down = await failure(currentBulkOperation(client));
  t.match(down, { code: 'HTTP_STATUS', status: 503, retryable: true });
  t.equal(fake.requests.length - before, 1, 'a 5xx is not retried here (the job is)');
  clean(t, down, 'Internal Server Error');

  const revoked = await failure(admin2(t).forShop(shop, 'shpat_not-a-token').request('{ shop { id } }'));
  t.match(revoked, { code: 'HTTP_STATUS', status: 401, unauthorized: true, retryable: false });
  t.notMatch(revoked.message, 'shpat_not-a-token');
  t.notMatch(revoked.message, 'Invalid API key');

  const unknownField = await failure(client.request('query shopName { shop { name } }'));
  t.match(unknownField, { code: 'GRAPHQL', codes: ['undefinedField'], operation: 'shopName', retryable: false });

  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const unreachable = createShopifyAdmin({ adminUrlTemplate: `http://127.0.0.1:${port}/{shop}`, apiVersion, breaker: false });
  t.teardown(() => unreachable.close());
  t.match(await failure(currentBulkOperation(unreachable.forShop(shop, token))), { code: 'NETWORK', retryable: true });

  const guarded = adminWith(t, { breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 60_000, volumeThreshold: 2 } });
  fake.failNext(500, 2);
  await failure(currentBulkOperation(guarded.client));
  await failure(currentBulkOperation(guarded.client));
  const requestsBefore = fake.requests.length;
  const open = await failure(currentBulkOperation(guarded.client));
  t.match(open, { code: 'CIRCUIT_OPEN', retryable: true });
  t.equal(fake.requests.length, requestsBefore, 'an open circuit refuses without calling Shopify');
  t.equal(guarded.admin.breakerState(), 'open');

  t.throws(() => guarded.admin.forShop('evil.com/x.myshopify.com', token), TypeError, 'only myshopify domains become request targets');
});

t.test('one-time purchase: created, approved or declined by the merchant, read back; invisible to other shops', async (t) => {
  const { client } = adminWith(t);
  const created = await appPurchaseOneTimeCreate(client, { name: '1,000 SMS credits', price: { amount: '25.00', currencyCode: 'USD' }, returnUrl: 'https://pigeon.example/billing/return', test: true });
  t.match(created.purchase, { id: /^gid:\/\/shopify\/AppPurchaseOneTime\/\d+$/, status: 'PENDING', test: true, price: { amount: '25.00', currencyCode: 'USD' } });
  t.match(created.confirmationUrl, /^http:\/\/127\.0\.0\.1:\d+\/pigeon-admin\.myshopify\.com\/admin\/charges\//);
  t.match(await appPurchaseOneTime(client, created.purchase.id), { status: 'PENDING' });

  fake.setPurchaseStatus(shop, created.purchase.id, 'ACTIVE');
  t.match(await appPurchaseOneTime(client, created.purchase.id), { id: created.purchase.id, status: 'ACTIVE', name: '1,000 SMS credits', price: { amount: '25.00', currencyCode: 'USD' } });
  t.equal(await appPurchaseOneTime(admin2(t).forShop(otherShop, otherToken), created.purchase.id), null, "another shop's token does not find it");

  const declined = await appPurchaseOneTimeCreate(client, { name: 'Credits', price: { amount: '5', currencyCode: 'USD' }, returnUrl: 'https://pigeon.example/billing/return' });
  fake.setPurchaseStatus(shop, declined.purchase.id, 'DECLINED');
  t.match(await appPurchaseOneTime(client, declined.purchase.id), { status: 'DECLINED', test: false, price: { amount: '5.00' } });

  const tooCheap = await failure(appPurchaseOneTimeCreate(client, { name: 'Credits', price: { amount: '0.10', currencyCode: 'USD' }, returnUrl: 'https://pigeon.example/billing/return' }));
  t.match(tooCheap, { code: 'USER_ERRORS', userErrors: [{ field: ['price', 'amount'] }] });
});

t.test('webhook subscriptions: created, duplicates refused, listed across pages', async (t) => {
  const { client } = adminWith(t);
  const fresh = 'pigeon-hooks.myshopify.com';
  const hooks = admin2(t).forShop(fresh, fake.grant(fresh));
  for (const topic of ['CUSTOMERS_CREATE', 'CUSTOMERS_UPDATE', 'APP_UNINSTALLED']) {
    await webhookSubscriptionCreate(hooks, { topic, uri: 'https://pigeon.example/webhooks/shopify' });
  }
  const duplicate = await failure(webhookSubscriptionCreate(hooks, { topic: 'APP_UNINSTALLED', uri: 'https://pigeon.example/webhooks/shopify' }));
  t.equal(duplicate.code, 'USER_ERRORS');
  const listed = await listWebhookSubscriptions(hooks, { pageSize: 2 });
  t.same(
    listed.map((w) => [w.topic, w.uri, w.format]),
    [
      ['CUSTOMERS_CREATE', 'https://pigeon.example/webhooks/shopify', 'JSON'],
      ['CUSTOMERS_UPDATE', 'https://pigeon.example/webhooks/shopify', 'JSON'],
      ['APP_UNINSTALLED', 'https://pigeon.example/webhooks/shopify', 'JSON'],
    ],
  );
  t.same(fake.webhookSubscriptions(fresh).length, 3);
  t.ok((await listWebhookSubscriptions(client)).every((w) => fake.webhookSubscriptions(shop).some((mine) => mine.id === w.id)), "a shop lists only its own");
});

t.test('the OAuth fake and the Admin fake are one Shopify: an installed token calls the API', async (t) => {
  const apiKey = 'pigeon-client-id-0123456789abcdef';
  const apiSecret = 'shpss_0123456789abcdef0123456789abcdef';
  const shopify = await startFakeShopify(apiKey, apiSecret);
  t.teardown(() => shopify.close());
  const installed = 'pigeon-oauth.myshopify.com';
  const { code } = shopify.approve(installed);
  const admin = createShopifyAdmin({ adminUrlTemplate: shopify.adminUrlTemplate, apiVersion });
  t.teardown(() => admin.close());
  const { accessToken } = await exchangeAuthorizationCode({ apiKey, apiSecret, adminUrlTemplate: shopify.adminUrlTemplate }, installed, code);
  shopify.admin.generateCustomers(installed, 3);
  const updated = await customerSmsMarketingConsentUpdate(admin.forShop(installed, accessToken), {
    customerId: 'gid://shopify/Customer/1',
    smsMarketingConsent: { marketingState: 'UNSUBSCRIBED' },
  });
  t.equal(updated.smsMarketingConsent?.marketingState, 'UNSUBSCRIBED');
  shopify.admin.revoke(installed);
  t.match(await failure(currentBulkOperation(admin.forShop(installed, accessToken))), { code: 'HTTP_STATUS', status: 401, unauthorized: true }, 'after uninstall the token is refused');
});

t.test('webhooks signed as Shopify signs them', async (t) => {
  const apiSecret = 'shpss_0123456789abcdef0123456789abcdef';
  const triggeredAt = new Date(Date.UTC(2025, 10, 2, 9, 30, 0, 123));
  const { body, headers } = shopifyWebhook({ id: 42, phone: '+12125550123' }, { topic: 'customers/update', shop, apiSecret, webhookId: 'wh-1', triggeredAt });
  t.ok(verifyWebhookHmac(Buffer.from(body), headers['X-Shopify-Hmac-Sha256'], apiSecret), "Pigeon's verifier accepts the signature");
  t.match(headers, {
    'X-Shopify-Topic': 'customers/update',
    'X-Shopify-Shop-Domain': shop,
    'X-Shopify-Webhook-Id': 'wh-1',
    'X-Shopify-Event-Id': /^[0-9a-f-]{36}$/,
    'X-Shopify-API-Version': '2025-10',
    'X-Shopify-Triggered-At': '2025-11-02T09:30:00.123000000Z',
  });
  t.equal(Date.parse(headers['X-Shopify-Triggered-At']!), triggeredAt.getTime(), 'the nanosecond timestamp parses');
});

/** A second client (its own throttle state), for another shop's point of view. */
function admin2(t: Test) {
  const admin = createShopifyAdmin({ adminUrlTemplate: fake.adminUrlTemplate, apiVersion });
  t.teardown(() => admin.close());
  return admin;
}
