// The fake Stripe server, driven by the real `stripe` SDK configured as the app configures
// it: the SDK must be able to talk to it (form bodies, errors, retries with idempotency
// keys, expand), and its deliveries must verify with the SDK's own constructEvent, while a
// stale, future or wrongly signed delivery must not. No database.
import t from 'tap';
import Stripe from 'stripe';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseStripeForm, signatureHeader, startFakeStripe } from '../src/providers/stripe/fake-server.js';

const SECRET_KEY = 'sk_test_fake_0123456789abcdef';
const WEBHOOK_SECRET = 'whsec_fake_0123456789abcdef';

// The app's side of the webhook: verify the raw body as Stripe's docs say, answer 400 otherwise.
const received: Stripe.Event[] = [];
const receiver = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const event = Stripe.webhooks.constructEvent(Buffer.concat(chunks), String(req.headers['stripe-signature'] ?? ''), WEBHOOK_SECRET, 300);
    received.push(event);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
  } catch (error) {
    res.writeHead(400).end((error as Error).message);
  }
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`;
t.teardown(
  () =>
    new Promise<void>((resolve) => {
      receiver.closeAllConnections();
      receiver.close(() => resolve());
    }),
);

const fake = await startFakeStripe({ secretKey: SECRET_KEY, webhookSecret: WEBHOOK_SECRET, webhookUrl });
t.teardown(() => fake.close());

const client = (key = SECRET_KEY) =>
  new Stripe(key, { host: '127.0.0.1', port: fake.port, protocol: 'http', apiVersion: '2026-10-28.endive', maxNetworkRetries: 2, timeout: 10_000 });
const stripe = client();

/** The JSON of an object (an SDK response also carries a `lastResponse` that is not the object). */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

const sessionParams = (overrides: Partial<Stripe.Checkout.SessionCreateParams> = {}): Stripe.Checkout.SessionCreateParams => ({
  mode: 'payment',
  line_items: [{ price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: '1,000 SMS credits' } }, quantity: 2 }],
  client_reference_id: 'purchase-1',
  metadata: { purchase_id: 'purchase-1', shop_id: 'shop-1' },
  payment_intent_data: { metadata: { purchase_id: 'purchase-1' } },
  success_url: 'https://app.example/billing/done?session={CHECKOUT_SESSION_ID}',
  cancel_url: 'https://app.example/billing',
  ...overrides,
});

t.test('Stripe bracket notation parses to nested objects and arrays, and __proto__ is only data', async (t) => {
  const parsed = parseStripeForm('line_items[0][price_data][unit_amount]=1000&line_items[0][quantity]=1&line_items[1][quantity]=3&expand[]=a&expand[]=b&metadata[k]=v%20w&__proto__[polluted]=1');
  t.same(JSON.parse(JSON.stringify(parsed)), {
    line_items: [{ price_data: { unit_amount: '1000' }, quantity: '1' }, { quantity: '3' }],
    expand: ['a', 'b'],
    metadata: { k: 'v w' },
    ['__proto__']: { polluted: '1' },
  });
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
});

t.test('a wrong or missing API key is a 401 in Stripe’s error shape', async (t) => {
  await t.rejects(client('sk_test_wrong_key_000').customers.create({ email: 'a@example.com' }), { type: 'StripeAuthenticationError', message: /./, statusCode: 401 });
  const res = await fetch(`${fake.url}/v1/customers/cus_x`);
  t.equal(res.status, 401);
  const body = (await res.json()) as { error: { type: string; message: string } };
  t.equal(body.error.type, 'invalid_request_error');
  t.match(body.error.message, /API key/);
});

t.test('customers are created with metadata and retrieved; an unknown id is resource_missing', async (t) => {
  const customer = await stripe.customers.create({ email: 'owner@shop.example', name: 'Shop Owner', metadata: { shop_id: 'shop-1' } });
  t.match(customer.id, /^cus_/);
  t.match(customer, { object: 'customer', email: 'owner@shop.example', name: 'Shop Owner', metadata: { shop_id: 'shop-1' }, livemode: false });
  t.same(plain(await stripe.customers.retrieve(customer.id)), plain(customer));
  t.equal(fake.customers.get(customer.id)?.email, 'owner@shop.example');
  await t.rejects(stripe.customers.retrieve('cus_missing'), { type: 'StripeInvalidRequestError', message: /./, statusCode: 404, code: 'resource_missing' });
});

t.test('a Checkout Session is created open and unpaid with a hosted URL; bad params are refused by name', async (t) => {
  const customer = await stripe.customers.create({ email: 'buyer@shop.example' });
  const before = Math.floor(Date.now() / 1000);
  const session = await stripe.checkout.sessions.create(sessionParams({ customer: customer.id }));
  t.match(session.id, /^cs_test_/);
  t.match(session, {
    object: 'checkout.session',
    status: 'open',
    payment_status: 'unpaid',
    amount_total: 2000,
    amount_subtotal: 2000,
    currency: 'usd',
    client_reference_id: 'purchase-1',
    metadata: { purchase_id: 'purchase-1', shop_id: 'shop-1' },
    customer: customer.id,
    payment_intent: null,
    mode: 'payment',
    livemode: false,
    url: `${fake.url}/c/pay/${session.id}`,
  });
  t.ok(session.expires_at >= before + 86_400 && session.expires_at <= before + 86_401, 'expires in 24 hours by default');
  const items = await stripe.checkout.sessions.listLineItems(session.id);
  t.match(items.data, [{ object: 'item', quantity: 2, amount_total: 2000, description: '1,000 SMS credits', price: { unit_amount: 1000 } }]);

  const refused = async (params: Stripe.Checkout.SessionCreateParams, expected: Record<string, unknown>) =>
    t.rejects(stripe.checkout.sessions.create(params), { type: 'StripeInvalidRequestError', message: /./, statusCode: 400, ...expected });
  await refused(sessionParams({ line_items: [{ price_data: { currency: 'usd', unit_amount: 1000, product_data: { name: 'x' } } }] }), { code: 'parameter_missing', param: 'line_items[0][quantity]' });
  await refused(sessionParams({ line_items: [{ price_data: { currency: 'usd', product_data: { name: 'x' } }, quantity: 1 }] }), { code: 'parameter_missing', param: 'line_items[0][price_data][unit_amount]' });
  await refused({ ...sessionParams(), line_items: undefined }, { code: 'parameter_missing', param: 'line_items' });
  await refused({ ...sessionParams(), mode: undefined }, { code: 'parameter_missing', param: 'mode' });
  await refused({ ...sessionParams(), nonsense: 'x' } as Stripe.Checkout.SessionCreateParams, { code: 'parameter_unknown', param: 'nonsense' });
  await refused(sessionParams({ line_items: [{ price_data: { currency: 'usd', unit_amount: 10, product_data: { name: 'x' } }, quantity: 1 }] }), { code: 'amount_too_small' });
  await refused(sessionParams({ customer: 'cus_nobody' }), { code: 'resource_missing', param: 'customer' });
  await refused(sessionParams({ expires_at: before + 60 }), { param: 'expires_at' });
  await refused(sessionParams({ success_url: 'not a url' }), { code: 'url_invalid', param: 'success_url' });
  const later = await stripe.checkout.sessions.create(sessionParams({ expires_at: before + 3_600 }));
  t.equal(later.expires_at, before + 3_600);
});

t.test('an Idempotency-Key replays the first response and refuses other parameters', async (t) => {
  const key = `purchase-idem-${Date.now()}`;
  const params = sessionParams({ client_reference_id: 'purchase-idem' });
  const first = await stripe.checkout.sessions.create(params, { idempotencyKey: key });
  // The same parameters in another key order are the same request.
  const again = await stripe.checkout.sessions.create(Object.fromEntries(Object.entries(params).reverse()), { idempotencyKey: key });
  t.equal(again.id, first.id, 'the same session');
  t.equal(again.lastResponse.headers['idempotent-replayed'], 'true');
  t.notOk(first.lastResponse.headers['idempotent-replayed']);
  t.equal([...fake.sessions.values()].filter((s) => s.client_reference_id === 'purchase-idem').length, 1, 'one session made');
  await t.rejects(stripe.checkout.sessions.create(sessionParams({ client_reference_id: 'other' }), { idempotencyKey: key }), { type: 'StripeIdempotencyError', message: /./, statusCode: 400 });
  await t.rejects(stripe.customers.create({ email: 'x@example.com' }, { idempotencyKey: key }), { type: 'StripeIdempotencyError', message: /./ }, 'nor on another endpoint');
  t.equal(fake.postsByIdempotencyKey.get(key), 4);
  // Without a key of its own the SDK sends one per call (stripe-node-retry-…).
  const unkeyed = await stripe.customers.create({ email: 'k@example.com' });
  t.match(unkeyed.lastResponse.idempotencyKey, /^stripe-node-retry-/);
  t.equal(fake.postsByIdempotencyKey.get(unkeyed.lastResponse.idempotencyKey!), 1);
});

t.test('during an outage requests are 500 api_error; the SDK retries with the same key and succeeds after it', async (t) => {
  t.teardown(() => fake.setOutage(false));
  fake.setOutage(true);
  await t.rejects(stripe.customers.retrieve('cus_x', {}, { maxNetworkRetries: 0 }), { type: 'StripeAPIError', message: /./, statusCode: 500 });
  const before = fake.requestCount;
  const pending = stripe.customers.create({ email: 'retry@example.com' }, { idempotencyKey: 'retry-key', maxNetworkRetries: 1 });
  while (fake.requestCount === before) await new Promise((r) => setTimeout(r, 5));
  fake.setOutage(false);
  const customer = await pending;
  t.match(customer.id, /^cus_/);
  t.equal(fake.postsByIdempotencyKey.get('retry-key'), 2, 'the first attempt and the retry carried the same key');
});

t.test('latency past the client timeout is a connection error', async (t) => {
  t.teardown(() => fake.setLatency(0));
  fake.setLatency(300);
  await t.rejects(stripe.customers.retrieve('cus_x', {}, { timeout: 50, maxNetworkRetries: 0 }), { type: 'StripeConnectionError', message: /./ });
});

t.test('paying completes the session, creates the payment intent and charge, and the signed event verifies', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams({ client_reference_id: 'purchase-pay' }));
  const event = await fake.completeSession(session.id);
  t.match(event, { object: 'event', type: 'checkout.session.completed', livemode: false, pending_webhooks: 1, api_version: '2026-10-28.endive', request: { id: null, idempotency_key: null } });
  t.match(event.id, /^evt_/);
  t.notOk('account' in event);
  t.same(plain(received.at(-1)), plain(event), 'delivered and verified by constructEvent');
  t.match(fake.deliveries.at(-1), { eventId: event.id, status: 200 });
  const paid = event.data.object as Stripe.Checkout.Session;
  t.match(paid, { id: session.id, status: 'complete', payment_status: 'paid', client_reference_id: 'purchase-pay', amount_total: 2000 });
  t.match(paid.payment_intent, /^pi_/);

  const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.latest_charge'] });
  const intent = expanded.payment_intent as Stripe.PaymentIntent;
  t.match(intent, { object: 'payment_intent', status: 'succeeded', amount: 2000, amount_received: 2000, currency: 'usd', metadata: { purchase_id: 'purchase-1' } });
  const charge = intent.latest_charge as Stripe.Charge;
  t.match(charge, { object: 'charge', status: 'succeeded', paid: true, amount: 2000, amount_refunded: 0, payment_intent: intent.id, refunded: false });
  t.match(charge.id, /^ch_/);
  t.match(charge.receipt_url, new RegExp(`^${fake.url}/receipts/payment/ch_`));
  t.equal((await fetch(charge.receipt_url!)).status, 200);
  t.match((await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent'] })).payment_intent, { object: 'payment_intent', latest_charge: charge.id });
  t.equal(typeof (await stripe.checkout.sessions.retrieve(session.id)).payment_intent, 'string', 'an id unless expanded');
  t.same(plain(await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge'] })), plain(intent), 'the intent on its own');
  t.match(await stripe.charges.retrieve(charge.id), { id: charge.id, amount: 2000 });
  await t.rejects(stripe.checkout.sessions.retrieve(session.id, { expand: ['client_reference_id'] }), { type: 'StripeInvalidRequestError', message: /./, statusCode: 400 });
  await t.rejects(fake.completeSession(session.id), /not open/, 'a session is paid once');

  const tampered = await stripe.checkout.sessions.create(sessionParams());
  const mismatch = await fake.completeSession(tampered.id, { amountTotal: 1, currency: 'eur', deliver: false });
  t.match(mismatch.data.object, { amount_total: 1, currency: 'eur' });
  t.equal(fake.deliveries.at(-1)?.eventId, event.id, 'deliver: false sends nothing');
});

t.test('a delayed payment completes unpaid, then succeeds or fails', async (t) => {
  const ok = await stripe.checkout.sessions.create(sessionParams());
  const completed = await fake.completeSession(ok.id, { async: true });
  t.match(completed.data.object, { status: 'complete', payment_status: 'unpaid' });
  const intentId = (completed.data.object as Stripe.Checkout.Session).payment_intent as string;
  t.match(await stripe.paymentIntents.retrieve(intentId), { status: 'processing', amount_received: 0 });
  const succeeded = await fake.asyncPaymentSucceeded(ok.id);
  t.match(succeeded, { type: 'checkout.session.async_payment_succeeded', data: { object: { payment_status: 'paid' } } });
  t.match(await stripe.paymentIntents.retrieve(intentId, { expand: ['latest_charge'] }), { status: 'succeeded', amount_received: 2000, latest_charge: { status: 'succeeded', paid: true } });
  t.equal(received.at(-1)?.id, succeeded.id);

  const bad = await stripe.checkout.sessions.create(sessionParams());
  await fake.completeSession(bad.id, { async: true });
  const failed = await fake.asyncPaymentFailed(bad.id);
  t.match(failed, { type: 'checkout.session.async_payment_failed', data: { object: { payment_status: 'unpaid', status: 'complete' } } });
  await t.rejects(fake.asyncPaymentSucceeded(bad.id), /no processing/);
});

t.test('sessions expire through the API (with the request in the event) or the control', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams());
  const expired = await stripe.checkout.sessions.expire(session.id, {}, { idempotencyKey: 'expire-1' });
  t.match(expired, { status: 'expired', url: null });
  const event = fake.events.at(-1)!;
  t.match(event, { type: 'checkout.session.expired', request: { idempotency_key: 'expire-1' }, data: { object: { id: session.id } } });
  t.match(event.request?.id, /^req_/);
  await t.rejects(stripe.checkout.sessions.expire(session.id), { type: 'StripeInvalidRequestError', message: /./, statusCode: 400 });
  await fake.idle();
  t.equal(received.at(-1)?.id, event.id, 'the API-triggered event was delivered (idle waits for it)');
  const other = await stripe.checkout.sessions.create(sessionParams());
  const viaControl = await fake.expireSession(other.id);
  t.match(viaControl, { type: 'checkout.session.expired', data: { object: { id: other.id, status: 'expired' } } });
  t.equal(received.at(-1)?.id, viaControl.id);
  await t.rejects(fake.completeSession(other.id), /expired/);
});

t.test('refunds accumulate on the charge; disputes open and close', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams());
  const paid = (await fake.completeSession(session.id)).data.object as Stripe.Checkout.Session;
  const intentId = paid.payment_intent as string;
  const partial = await fake.refund(intentId, 500);
  t.match(partial, { type: 'charge.refunded', data: { object: { object: 'charge', amount: 2000, amount_refunded: 500, refunded: false, payment_intent: intentId } } });
  const chargeId = (partial.data.object as Stripe.Charge).id;
  const rest = await fake.refund(chargeId);
  t.match(rest.data.object, { amount_refunded: 2000, refunded: true });
  t.equal(fake.refunds.size, 2);
  t.ok([...fake.refunds.values()].every((r) => r.id.startsWith('re_') && r.charge === chargeId));
  await t.rejects(fake.refund(chargeId, 1), /cannot refund/);
  t.match(received.at(-1), { id: rest.id, type: 'charge.refunded' });

  const opened = await fake.createDispute(chargeId);
  const dispute = opened.data.object as Stripe.Dispute;
  t.match(opened, { type: 'charge.dispute.created' });
  t.match(dispute, { object: 'dispute', charge: chargeId, payment_intent: intentId, amount: 2000, currency: 'usd', status: 'needs_response' });
  t.match(dispute.id, /^dp_/);
  const closed = await fake.closeDispute(dispute.id, 'lost');
  t.match(closed, { type: 'charge.dispute.closed', data: { object: { id: dispute.id, status: 'lost' } } });
  t.equal(received.at(-1)?.id, closed.id);
});

t.test('stale, future and wrongly signed deliveries are refused by constructEvent; a rolled secret still verifies', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams());
  const event = await fake.completeSession(session.id, { deliver: false });
  const nowSeconds = Math.floor(Date.now() / 1000);
  t.match(await fake.deliver(event, { timestamp: nowSeconds - 301 }), { status: 400, body: /tolerance/ });
  // The SDK checks only a signature's age: a future timestamp passes constructEvent, so an
  // app that wants to refuse those must compare the `t=` itself.
  t.match(await fake.deliver(event, { timestamp: nowSeconds + 3_600 }), { status: 200 }, 'constructEvent accepts a future timestamp');
  t.match(fake.deliveries.at(-1), { eventId: event.id, status: 200 });
  t.match(await fake.deliver(event, { secret: 'whsec_not_the_one' }), { status: 400, body: /signature/i });
  t.match(await fake.deliver(event, { signatureHeader: 'garbage' }), { status: 400 });
  t.match(await fake.deliver(event, { secret: ['whsec_old_secret', WEBHOOK_SECRET] }), { status: 200 }, 'two v1 signatures, one good');
  t.match(await fake.deliver(event), { status: 200 });

  // The helpers produce what Stripe sends and the SDK accepts.
  const payload = JSON.stringify({ id: 'evt_x', object: 'event' });
  const header = signatureHeader(payload, { secret: WEBHOOK_SECRET, timestamp: nowSeconds });
  t.match(header, new RegExp(`^t=${nowSeconds},v1=[0-9a-f]{64}$`));
  t.equal(Stripe.webhooks.constructEvent(payload, fake.signatureHeader(payload), WEBHOOK_SECRET, 300).id, 'evt_x');

  fake.setWebhookUrl('http://127.0.0.1:1/nowhere');
  t.teardown(() => fake.setWebhookUrl(webhookUrl));
  t.match(await fake.deliver(event), { status: 0 }, 'an unreachable endpoint');
});

t.test('events are listed newest first, paged and filtered; another account’s only with its header', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams());
  const paid = await fake.completeSession(session.id, { deliver: false });
  const refunded = await fake.refund((paid.data.object as Stripe.Checkout.Session).payment_intent as string, undefined, { deliver: false });
  const page = await stripe.events.list({ limit: 2 });
  t.same(page.data.map((e) => e.id), [refunded.id, paid.id]);
  t.equal(page.has_more, true);
  const next = await stripe.events.list({ limit: 1, starting_after: paid.id });
  t.equal(next.data[0]?.id, fake.events.filter((e) => !e.account).at(-3)?.id);
  const completed = await stripe.events.list({ type: 'checkout.session.completed', limit: 100 });
  t.ok(completed.data.length >= 2 && completed.data.every((e) => e.type === 'checkout.session.completed'));
  t.ok((await stripe.events.list({ type: 'charge.*', limit: 100 })).data.every((e) => e.type.startsWith('charge.')));
  t.same(plain(await stripe.events.retrieve(paid.id)), plain(paid));
  await t.rejects(stripe.events.retrieve('evt_missing'), { statusCode: 404, code: 'resource_missing' });

  const foreign = await stripe.checkout.sessions.create(sessionParams());
  const connected = await fake.completeSession(foreign.id, { account: 'acct_1Other', deliver: true });
  t.equal(connected.account, 'acct_1Other');
  t.match(received.at(-1), { id: connected.id, account: 'acct_1Other' });
  await t.rejects(stripe.events.retrieve(connected.id), { code: 'resource_missing', statusCode: 404 });
  t.equal((await stripe.events.retrieve(connected.id, {}, { stripeAccount: 'acct_1Other' })).id, connected.id);
  t.notOk((await stripe.events.list({ limit: 100 })).data.some((e) => e.id === connected.id));
});

t.test('the hosted page shows the session and paying redirects to success_url', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams());
  const page = await fetch(session.url!);
  t.equal(page.status, 200);
  t.match(await page.text(), /<button type="submit">Pay<\/button>/);
  const before = received.length;
  const pay = await fetch(session.url!, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
  t.equal(pay.status, 303);
  t.equal(pay.headers.get('location'), `https://app.example/billing/done?session=${session.id}`);
  t.equal(fake.sessions.get(session.id)?.payment_status, 'paid');
  // The webhook is not awaited by the redirect, as with Stripe: it arrives shortly after.
  await fake.idle();
  t.ok(received.length > before);
  t.match(received.at(-1), { type: 'checkout.session.completed', data: { object: { id: session.id } } });
  t.equal((await fetch(session.url!, { method: 'POST', body: '' })).status, 409, 'a closed session cannot be paid again');
  t.equal((await fetch(`${fake.url}/c/pay/cs_test_unknown`)).status, 404);
});

t.test('the app can refund through the API and find a payment’s session', async (t) => {
  const session = await stripe.checkout.sessions.create(sessionParams({ client_reference_id: 'purchase-api-refund' }));
  const paid = (await fake.completeSession(session.id, { deliver: false })).data.object as Stripe.Checkout.Session;
  const intentId = paid.payment_intent as string;
  const found = await stripe.checkout.sessions.list({ payment_intent: intentId, expand: ['data.payment_intent'] });
  t.equal(found.data.length, 1);
  t.match(found.data[0], { id: session.id, client_reference_id: 'purchase-api-refund', payment_intent: { id: intentId, status: 'succeeded' } });

  const refund = await stripe.refunds.create({ payment_intent: intentId, amount: 700, reason: 'requested_by_customer', metadata: { by: 'support' } }, { idempotencyKey: 'refund-1' });
  t.match(refund, { object: 'refund', amount: 700, status: 'succeeded', payment_intent: intentId, reason: 'requested_by_customer', metadata: { by: 'support' } });
  t.match(refund.id, /^re_/);
  t.match(fake.events.at(-1), { type: 'charge.refunded', request: { idempotency_key: 'refund-1' }, data: { object: { amount_refunded: 700, refunded: false } } });
  t.equal((await stripe.refunds.create({ payment_intent: intentId, amount: 700, reason: 'requested_by_customer', metadata: { by: 'support' } }, { idempotencyKey: 'refund-1' })).id, refund.id, 'a retried refund is not a second refund');
  await t.rejects(stripe.refunds.create({ payment_intent: intentId, amount: 5_000 }), { type: 'StripeInvalidRequestError', message: /greater than unrefunded/, param: 'amount' });
  t.match(await stripe.refunds.create({ charge: refund.charge as string }), { amount: 1_300 });
  await t.rejects(stripe.refunds.create({ charge: refund.charge as string }), { code: 'charge_already_refunded' });
  await t.rejects(stripe.refunds.create({ payment_intent: 'pi_missing' }), { code: 'resource_missing', param: 'payment_intent' });
});
