// Billing: shops buy credits with Stripe, credited exactly once, and a lost webhook never
// loses a purchase. Played against a fake Stripe with the real SDK; webhooks signed as
// Stripe signs them. The attacks: a confirm for another shop's purchase or session, a
// session whose amount or currency differs, a client-sent price or credit count, replayed,
// stale, future-dated, unsigned or wrongly signed webhooks, webhook + confirm + reconciler
// racing, a refund after the credits were spent, a lost webhook. The ledger sums to the
// wallet after every test.
import t from 'tap';
declare namespace Tap {
  type Test = import('tap').Test;
}
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp, type Account } from './helpers/accounts.js';
import { ledgerMatchesWallet } from './helpers/ledger.js';
import { deliverAndApply, fakeStripeFor, postStripeEvent, startPurchaseVia, STRIPE_OLD_SECRET } from './helpers/billing-fixtures.js';
import { withShop } from '../src/db/with-shop.js';
import { applyCreditEntry, getWallet } from '../src/modules/wallet/service.js';
import { applyStripeEvent } from '../src/modules/billing/stripe-events.js';
import { reconcileBilling } from '../src/modules/billing/reconcile.js';

const db = await createTestDatabase(t, { apiPoolSize: 10 });
const { fake, env, workerStripe } = await fakeStripeFor(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', ...env });

const wallet = (shopId: string) => withShop(db.apiDb, shopId, (tx) => getWallet(tx, shopId));
const purchaseOf = async (account: Account, id: string) => (await app.inject({ method: 'GET', url: `/api/v1/billing/purchases/${id}`, headers: account.headers })).json();
const auditActions = async (shopId: string) =>
  (await db.admin.query(`select action, result, metadata from app.audit_events where shop_id = $1 order by created_at, id`, [shopId])).rows as Array<{ action: string; result: string; metadata: Record<string, unknown> }>;
const holdsOf = async (shopId: string) => (await db.admin.query(`select sending_holds from app.shop_settings where shop_id = $1`, [shopId])).rows[0].sending_holds as string[];
const eventStatus = async (id: string) => (await db.admin.query(`select status, note from app.stripe_events where id = $1`, [id])).rows[0] as { status: string; note: string | null } | undefined;
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);
async function paidPurchase(account: Account, packageId = 'starter') {
  const started = await startPurchaseVia(app, fake, account, packageId);
  const completed = await fake.completeSession(started.sessionId, { deliver: false });
  t.equal(await deliverAndApply(app, fake, db.workerDb, completed), 'applied');
  const intent = fake.sessions.get(started.sessionId)!.payment_intent as string;
  return { ...started, paymentIntentId: intent };
}

t.test('the catalogue is the server’s: packages listed, and a client-sent price or credit count is refused', async (t) => {
  const account = await signUp(app);
  const list = await app.inject({ method: 'GET', url: '/api/v1/billing/packages', headers: account.headers });
  t.equal(list.statusCode, 200);
  t.same(list.json().items[0], { id: 'starter', name: '1,000 credits', credits: 1000, amount: 1500, currency: 'usd' });
  for (const payload of [{ packageId: 'starter', credits: 1_000_000 }, { packageId: 'starter', amount: 1 }, { packageId: 'starter', price: 1, currency: 'usd' }, { credits: 5 }]) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload });
    t.equal(res.statusCode, 400, `refused: ${JSON.stringify(payload)}`);
  }
  const unknown = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload: { packageId: 'free-money' } });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error.code, 'PACKAGE_NOT_FOUND');
  t.equal((await db.admin.query(`select count(*)::int as n from app.credit_purchases where shop_id = $1`, [account.shopId])).rows[0].n, 0, 'no purchase was created');
});

t.test('a purchase: a pending row with the package copied, one Stripe customer per shop, a Checkout Session keyed by the purchase', async (t) => {
  const account = await signUp(app);
  const first = await startPurchaseVia(app, fake, account, 'growth');
  const view = await purchaseOf(account, first.purchaseId);
  t.match(view, { status: 'pending', packageId: 'growth', credits: 5000, amount: 6500, currency: 'usd', checkoutUrl: first.checkoutUrl, paidAt: null });
  const session = fake.sessions.get(first.sessionId)!;
  t.equal(session.client_reference_id, first.purchaseId);
  t.equal(session.metadata?.purchase_id, first.purchaseId);
  t.equal(session.amount_total, 6500);
  t.match(session.success_url, /^http:\/\/127\.0\.0\.1:3000\/billing\/success\?purchase=/);
  t.equal(fake.postsByIdempotencyKey.get(`pigeon-checkout-${first.purchaseId}`), 1, 'the session was created with a key derived from the purchase');
  const second = await startPurchaseVia(app, fake, account, 'starter');
  const customers = new Set([session.customer, fake.sessions.get(second.sessionId)!.customer]);
  t.equal(customers.size, 1, 'both sessions are for the shop’s one customer');
  t.equal((await db.admin.query(`select count(*)::int as n from app.stripe_customers where shop_id = $1`, [account.shopId])).rows[0].n, 1);
  const list = await app.inject({ method: 'GET', url: '/api/v1/billing/purchases?limit=1', headers: account.headers });
  t.equal(list.json().items[0].id, second.purchaseId);
  const next = await app.inject({ method: 'GET', url: `/api/v1/billing/purchases?limit=1&cursor=${list.json().nextCursor}`, headers: account.headers });
  t.equal(next.json().items[0].id, first.purchaseId);
  t.equal(next.json().nextCursor, null);
  t.ok((await auditActions(account.shopId)).some((a) => a.action === 'billing.purchase_created'));
});

t.test('Idempotency-Key: a retried click returns the same purchase and checkout URL', async (t) => {
  const account = await signUp(app);
  const headers = { ...account.headers, 'idempotency-key': randomUUID() };
  const a = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers, payload: { packageId: 'starter' } });
  const b = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers, payload: { packageId: 'starter' } });
  t.equal(a.statusCode, 201);
  t.equal(b.headers['idempotent-replayed'], 'true');
  t.equal(b.json().purchase.id, a.json().purchase.id);
  t.equal(b.json().checkoutUrl, a.json().checkoutUrl);
  t.equal((await db.admin.query(`select count(*)::int as n from app.credit_purchases where shop_id = $1`, [account.shopId])).rows[0].n, 1);
});

t.test('members cannot buy; another shop’s purchase is 404 everywhere', async (t) => {
  const owner = await signUp(app);
  const other = await signUp(app);
  const { purchaseId } = await startPurchaseVia(app, fake, owner);
  for (const [method, url] of [
    ['GET', `/api/v1/billing/purchases/${purchaseId}`],
    ['POST', `/api/v1/billing/purchases/${purchaseId}/confirm`],
  ] as const) {
    const res = await app.inject({ method, url, headers: other.headers, ...(method === 'POST' ? { payload: {} } : {}) });
    t.equal(res.statusCode, 404, `${method} ${url}`);
  }
  const list = await app.inject({ method: 'GET', url: '/api/v1/billing/purchases', headers: other.headers });
  t.same(list.json().items, []);
});

t.test('the webhook credits a paid purchase once; the receipt follows', async (t) => {
  const account = await signUp(app);
  const { purchaseId, sessionId } = await startPurchaseVia(app, fake, account);
  const completed = await fake.completeSession(sessionId, { deliver: false });
  const res = await postStripeEvent(app, fake, completed);
  t.equal(res.statusCode, 200);
  t.same(res.json(), { received: true, duplicate: false });
  t.equal((await eventStatus(completed.id))?.status, 'pending', 'recorded, with its job');
  const { rows: jobs } = await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key = $1`, [`stripe-event:${completed.id}`]);
  t.equal(jobs[0].n, 1, 'the job was added in the webhook’s transaction');
  t.equal((await wallet(account.shopId)).balance, 0, 'nothing credited before the job runs');
  t.equal(await applyStripeEvent(db.workerDb, completed.id), 'applied');
  t.equal(await applyStripeEvent(db.workerDb, completed.id), 'already_settled', 'the job run twice changes nothing');
  t.equal((await wallet(account.shopId)).balance, 1000);
  const view = await purchaseOf(account, purchaseId);
  t.equal(view.status, 'paid');
  t.equal(view.checkoutUrl, null);
  const replay = await postStripeEvent(app, fake, completed);
  t.same(replay.json(), { received: true, duplicate: true }, 'a replay is acknowledged and changes nothing');
  t.equal((await wallet(account.shopId)).balance, 1000);
  // The receipt job (added with the credit) reads the charge.
  const { fetchReceipt } = await import('../src/modules/billing/receipt.js');
  t.equal(await fetchReceipt(db.workerDb, workerStripe, account.shopId, purchaseId), 'stored');
  t.match((await purchaseOf(account, purchaseId)).receiptUrl, /^http/);
  const { rows: ledger } = await db.admin.query(`select kind, credits, idempotency_key from app.credit_ledger where shop_id = $1`, [account.shopId]);
  t.same(ledger, [{ kind: 'purchase', credits: 1000, idempotency_key: purchaseId }], 'one purchase entry, keyed by the purchase id');
  t.ok((await auditActions(account.shopId)).some((a) => a.action === 'billing.purchase_paid'));
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('webhook signatures: unsigned, wrongly signed, stale, future-dated and malformed are 401 and change nothing; the previous secret still works', async (t) => {
  const account = await signUp(app);
  const { sessionId } = await startPurchaseVia(app, fake, account);
  const completed = await fake.completeSession(sessionId, { deliver: false });
  // Each timestamp is taken right before its request, and 30 s clear of the 300 s limit: on a
  // loaded machine seconds pass between requests.
  const at = (offsetSeconds: number) => Math.floor(Date.now() / 1000) + offsetSeconds;
  const attempts = {
    unsigned: await postStripeEvent(app, fake, completed, { header: null }),
    wrongSecret: await postStripeEvent(app, fake, completed, { secret: 'whsec_someoneElsesSecret000000000000' }),
    stale: await postStripeEvent(app, fake, completed, { timestamp: at(-330) }),
    future: await postStripeEvent(app, fake, completed, { timestamp: at(330) }),
    malformed: await postStripeEvent(app, fake, completed, { header: 'v1=deadbeef' }),
    tamperedBody: await postStripeEvent(app, fake, completed, { header: fake.signatureHeader(JSON.stringify(completed)), payload: JSON.stringify({ ...completed, id: 'evt_forged' }) }),
  };
  for (const [name, res] of Object.entries(attempts)) {
    t.equal(res.statusCode, 401, name);
    t.equal(res.json().error.code, 'INVALID_SIGNATURE', name);
  }
  t.equal(await eventStatus(completed.id), undefined, 'nothing was recorded');
  t.equal((await wallet(account.shopId)).balance, 0);
  const rotated = await postStripeEvent(app, fake, completed, { secret: STRIPE_OLD_SECRET, timestamp: at(-200) });
  t.equal(rotated.statusCode, 200, 'the previous secret is accepted during rotation, within the tolerance');
});

t.test('too many bad signatures from one address: 429; valid deliveries are never limited', async (t) => {
  const fresh = await buildTestApp(t, db.apiDb, { ...env, WEBHOOK_SIGNATURE_FAILURE_MAX: '3' });
  const event = { id: `evt_${randomUUID().replace(/-/g, '')}`, object: 'event', type: 'customer.created', created: Math.floor(Date.now() / 1000), livemode: false, data: { object: {} } };
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await fresh.app.inject({ method: 'POST', url: '/webhooks/stripe', remoteAddress: '203.0.113.77', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' }, payload: JSON.stringify(event) });
    statuses.push(res.statusCode);
  }
  t.same(statuses.slice(0, 3), [401, 401, 401]);
  t.equal(statuses[4], 429);
  const good = await fresh.app.inject({
    method: 'POST',
    url: '/webhooks/stripe',
    remoteAddress: '203.0.113.78',
    headers: { 'content-type': 'application/json', 'stripe-signature': fake.signatureHeader(JSON.stringify(event)) },
    payload: JSON.stringify(event),
  });
  t.equal(good.statusCode, 200);
  t.equal((await eventStatus(event.id))?.status, 'ignored', 'an unhandled type is acknowledged, recorded and ignored');
});

t.test('events of another Stripe account or the other mode are acknowledged and ignored', async (t) => {
  const account = await signUp(app);
  const { sessionId } = await startPurchaseVia(app, fake, account);
  const connected = await fake.completeSession(sessionId, { deliver: false, account: 'acct_someoneElse' });
  t.equal((await postStripeEvent(app, fake, connected)).statusCode, 200);
  t.match(await eventStatus(connected.id), { status: 'ignored', note: 'another Stripe account' });
  const live = { ...connected, id: `evt_${randomUUID().replace(/-/g, '')}`, livemode: true, account: undefined };
  t.equal((await postStripeEvent(app, fake, live as never)).statusCode, 200);
  t.equal((await eventStatus(live.id))?.status, 'ignored');
  t.equal((await wallet(account.shopId)).balance, 0);
});

t.test('confirm: credits before the webhook, and the webhook afterwards changes nothing', async (t) => {
  const account = await signUp(app);
  const { purchaseId, sessionId } = await startPurchaseVia(app, fake, account);
  const early = await app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${purchaseId}/confirm`, headers: account.headers, payload: { sessionId } });
  t.equal(early.statusCode, 200);
  t.equal(early.json().status, 'pending', 'not paid yet: still pending');
  const completed = await fake.completeSession(sessionId, { deliver: false });
  const confirmed = await app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${purchaseId}/confirm`, headers: account.headers, payload: { sessionId } });
  t.equal(confirmed.statusCode, 200);
  t.equal(confirmed.json().status, 'paid');
  t.match(confirmed.json().receiptUrl, /^http/, 'the confirm read the receipt with the session');
  t.equal((await wallet(account.shopId)).balance, 1000);
  t.equal(await deliverAndApply(app, fake, db.workerDb, completed), 'applied');
  t.equal((await wallet(account.shopId)).balance, 1000, 'the webhook after the confirm credits nothing more');
  const noBody = await app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${purchaseId}/confirm`, headers: account.headers });
  t.equal(noBody.statusCode, 200, 'the session id is optional');
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('confirm refuses another shop’s session and a session whose amount or currency differs, and audits it', async (t) => {
  const victim = await signUp(app);
  const attacker = await signUp(app);
  const victimPurchase = await startPurchaseVia(app, fake, victim);
  await fake.completeSession(victimPurchase.sessionId, { deliver: false });
  const mine = await startPurchaseVia(app, fake, attacker);
  // The attacker's success page claims the victim's paid session.
  const stolen = await app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${mine.purchaseId}/confirm`, headers: attacker.headers, payload: { sessionId: victimPurchase.sessionId } });
  t.equal(stolen.statusCode, 409);
  t.equal(stolen.json().error.code, 'CONFIRM_REFUSED');
  t.equal((await wallet(attacker.shopId)).balance, 0);
  t.match((await auditActions(attacker.shopId)).find((a) => a.action === 'billing.confirm_refused'), { result: 'denied', metadata: { reason: 'session_mismatch' } });
  // A session that says a different amount was paid (for example one edited at Stripe).
  const cheap = await startPurchaseVia(app, fake, attacker, 'scale');
  await fake.completeSession(cheap.sessionId, { deliver: false, amountTotal: 100 });
  const underpaid = await app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${cheap.purchaseId}/confirm`, headers: attacker.headers, payload: {} });
  t.equal(underpaid.statusCode, 409);
  t.equal((await wallet(attacker.shopId)).balance, 0, 'nothing credited for an amount that differs');
  t.ok((await auditActions(attacker.shopId)).some((a) => a.action === 'billing.confirm_refused' && a.metadata.reason === 'amount_mismatch'));
  const otherCurrency = await startPurchaseVia(app, fake, attacker);
  const event = await fake.completeSession(otherCurrency.sessionId, { deliver: false, currency: 'eur' });
  t.equal(await deliverAndApply(app, fake, db.workerDb, event), 'refused', 'the webhook refuses it too');
  t.match(await eventStatus(event.id), { status: 'ignored', note: 'currency_mismatch' });
  t.ok((await auditActions(attacker.shopId)).some((a) => a.action === 'billing.payment_refused' && a.metadata.reason === 'currency_mismatch'));
  t.equal((await wallet(attacker.shopId)).balance, 0);
});

t.test('webhook, confirm and reconciler racing (20 at once) credit exactly once', async (t) => {
  const account = await signUp(app);
  const { purchaseId, sessionId } = await startPurchaseVia(app, fake, account);
  const completed = await fake.completeSession(sessionId, { deliver: false });
  t.equal((await postStripeEvent(app, fake, completed)).statusCode, 200);
  const racers = Array.from({ length: 20 }, (_, i) => {
    if (i % 3 === 0) return applyStripeEvent(db.workerDb, completed.id);
    if (i % 3 === 1) return app.inject({ method: 'POST', url: `/api/v1/billing/purchases/${purchaseId}/confirm`, headers: account.headers, payload: {} }).then((r) => r.statusCode);
    return reconcileBilling(db.workerDb, workerStripe, later(11));
  });
  await Promise.all(racers);
  t.equal((await wallet(account.shopId)).balance, 1000, 'credited exactly once');
  const { rows } = await db.admin.query(`select count(*)::int as n from app.credit_ledger where shop_id = $1 and kind = 'purchase'`, [account.shopId]);
  t.equal(rows[0].n, 1);
  t.equal((await db.admin.query(`select count(*)::int as n from app.audit_events where shop_id = $1 and action = 'billing.purchase_paid'`, [account.shopId])).rows[0].n, 1, 'one paid audit row');
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('a lost webhook: the reconciler asks Stripe and credits the purchase; expired sessions become expired', async (t) => {
  const account = await signUp(app);
  const paid = await startPurchaseVia(app, fake, account);
  await fake.completeSession(paid.sessionId, { deliver: false }); // the webhook never arrives
  const abandoned = await startPurchaseVia(app, fake, account);
  await fake.expireSession(abandoned.sessionId, { deliver: false });
  const tooEarly = await reconcileBilling(db.workerDb, workerStripe, new Date());
  t.equal(tooEarly.purchasesChecked, 0, 'purchases younger than 10 minutes are left to the webhook');
  const report = await reconcileBilling(db.workerDb, workerStripe, later(11));
  t.ok(report.purchasesSettled >= 2);
  t.equal((await purchaseOf(account, paid.purchaseId)).status, 'paid');
  t.equal((await purchaseOf(account, abandoned.purchaseId)).status, 'expired');
  t.equal((await wallet(account.shopId)).balance, 1000);
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('delayed payments: async success credits, async failure fails, nothing credited before', async (t) => {
  const account = await signUp(app);
  const good = await startPurchaseVia(app, fake, account);
  const bad = await startPurchaseVia(app, fake, account);
  for (const p of [good, bad]) t.equal(await deliverAndApply(app, fake, db.workerDb, await fake.completeSession(p.sessionId, { deliver: false, async: true })), 'applied');
  t.equal((await wallet(account.shopId)).balance, 0, 'a completed but unpaid session credits nothing');
  t.equal(await deliverAndApply(app, fake, db.workerDb, await fake.asyncPaymentSucceeded(good.sessionId, { deliver: false })), 'applied');
  t.equal(await deliverAndApply(app, fake, db.workerDb, await fake.asyncPaymentFailed(bad.sessionId, { deliver: false })), 'applied');
  t.equal((await purchaseOf(account, good.purchaseId)).status, 'paid');
  t.match(await purchaseOf(account, bad.purchaseId), { status: 'failed', failureReason: 'payment_failed' });
  t.equal((await wallet(account.shopId)).balance, 1000);
});

t.test('a partial refund takes back its share once; an older refund report changes nothing', async (t) => {
  const account = await signUp(app);
  const p = await paidPurchase(account, 'growth'); // 5000 credits for 6500
  const half = await fake.refund(p.paymentIntentId, 3250, { deliver: false });
  t.equal(await deliverAndApply(app, fake, db.workerDb, half), 'applied');
  t.equal((await wallet(account.shopId)).balance, 2500);
  t.match(await purchaseOf(account, p.purchaseId), { status: 'partially_refunded', amountRefunded: 3250, creditsReversed: 2500, creditShortfall: 0 });
  const rest = await fake.refund(p.paymentIntentId, 3250, { deliver: false });
  t.equal(await deliverAndApply(app, fake, db.workerDb, rest), 'applied');
  // The first report, delivered again under a new event id after the second (out of order).
  const stale = { ...half, id: `evt_${randomUUID().replace(/-/g, '')}` };
  t.equal(await deliverAndApply(app, fake, db.workerDb, stale), 'applied');
  t.equal((await wallet(account.shopId)).balance, 0);
  t.match(await purchaseOf(account, p.purchaseId), { status: 'refunded', creditsReversed: 5000 });
  t.same(await holdsOf(account.shopId), [], 'nothing was spent: no hold');
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('a refund after the credits were spent: no negative balance, the shortfall recorded, sending held, audited', async (t) => {
  const account = await signUp(app);
  const p = await paidPurchase(account); // 1000 credits
  // 900 credits spent on messages (reserved then debited, as a send batch does).
  await withShop(db.workerDb, account.shopId, async (tx) => {
    await applyCreditEntry(tx, { shopId: account.shopId, kind: 'reserve', credits: 950, idempotencyKey: 'reserve:test' });
    await applyCreditEntry(tx, { shopId: account.shopId, kind: 'debit', credits: 900, idempotencyKey: 'debit:test' });
  });
  t.same(await wallet(account.shopId), { balance: 100, reserved: 50, available: 50 });
  t.equal(await deliverAndApply(app, fake, db.workerDb, await fake.refund(p.paymentIntentId, undefined, { deliver: false })), 'applied');
  t.same(await wallet(account.shopId), { balance: 50, reserved: 50, available: 0 }, 'only the unspent, unreserved credits were taken back');
  t.match(await purchaseOf(account, p.purchaseId), { status: 'refunded', creditsReversed: 50, creditShortfall: 950 });
  t.same(await holdsOf(account.shopId), [`billing:refund_shortfall:${p.purchaseId}`]);
  const settings = await app.inject({ method: 'GET', url: '/api/v1/settings', headers: account.headers });
  t.same(settings.json().sendingHolds, [`billing:refund_shortfall:${p.purchaseId}`], 'the shop sees why sending is held');
  const lift = await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: account.headers, payload: { sendingHolds: [] } });
  t.equal(lift.statusCode, 400, 'the shop cannot lift the hold itself');
  t.match((await auditActions(account.shopId)).find((a) => a.action === 'billing.refund_shortfall'), { metadata: { creditsSpent: 950 } });
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('a refund that arrives before the payment waits, and the state converges to the in-order one', async (t) => {
  const account = await signUp(app);
  const { purchaseId, sessionId } = await startPurchaseVia(app, fake, account, 'growth');
  const completed = await fake.completeSession(sessionId, { deliver: false });
  const intent = fake.sessions.get(sessionId)!.payment_intent as string;
  const refunded = await fake.refund(intent, 1300, { deliver: false });
  t.equal(await deliverAndApply(app, fake, db.workerDb, refunded), 'waiting', 'kept: the payment is not recorded yet');
  t.match(await eventStatus(refunded.id), { status: 'waiting' });
  t.equal(await deliverAndApply(app, fake, db.workerDb, completed), 'applied');
  // Recording the payment woke the waiting event: its job is queued again.
  t.equal((await eventStatus(refunded.id))?.status, 'pending');
  t.equal(await applyStripeEvent(db.workerDb, refunded.id), 'applied');
  t.match(await purchaseOf(account, purchaseId), { status: 'partially_refunded', creditsReversed: 1000, amountRefunded: 1300 });
  t.equal((await wallet(account.shopId)).balance, 4000, 'the same as completion then refund');
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('a waiting refund whose wake was missed is matched by the reconciler through Stripe', async (t) => {
  const account = await signUp(app);
  const { purchaseId, sessionId } = await startPurchaseVia(app, fake, account);
  await fake.completeSession(sessionId, { deliver: false }); // completion webhook lost
  const intent = fake.sessions.get(sessionId)!.payment_intent as string;
  const refunded = await fake.refund(intent, 750, { deliver: false });
  t.equal(await deliverAndApply(app, fake, db.workerDb, refunded), 'waiting');
  const report = await reconcileBilling(db.workerDb, workerStripe, later(11));
  t.ok(report.waitingEventsMatched + report.purchasesSettled >= 1);
  await applyStripeEvent(db.workerDb, refunded.id);
  t.match(await purchaseOf(account, purchaseId), { status: 'partially_refunded', creditsReversed: 500 });
  t.equal((await wallet(account.shopId)).balance, 500);
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('disputes: opened holds sending; won lifts the hold; lost takes the credits back and keeps it', async (t) => {
  const account = await signUp(app);
  const won = await paidPurchase(account);
  const lost = await paidPurchase(account);
  const chargeOf = (pi: string) => fake.paymentIntents.get(pi)!.latest_charge as string;
  const d1 = await fake.createDispute(chargeOf(won.paymentIntentId), { deliver: false });
  const d2 = await fake.createDispute(chargeOf(lost.paymentIntentId), { deliver: false });
  for (const e of [d1, d2]) t.equal(await deliverAndApply(app, fake, db.workerDb, e), 'applied');
  t.equal((await purchaseOf(account, won.purchaseId)).status, 'disputed');
  t.equal((await holdsOf(account.shopId)).length, 2);
  const disputeId = (e: typeof d1) => (e.data.object as { id: string }).id;
  const closedWon = await fake.closeDispute(disputeId(d1), 'won', { deliver: false });
  t.equal(await deliverAndApply(app, fake, db.workerDb, closedWon), 'applied');
  // The "created" report delivered again after the close must not reopen it.
  t.equal(await deliverAndApply(app, fake, db.workerDb, { ...d1, id: `evt_${randomUUID().replace(/-/g, '')}` }), 'applied');
  t.equal((await purchaseOf(account, won.purchaseId)).status, 'paid');
  t.same(await holdsOf(account.shopId), [`billing:dispute:${disputeId(d2)}`]);
  t.equal(await deliverAndApply(app, fake, db.workerDb, await fake.closeDispute(disputeId(d2), 'lost', { deliver: false })), 'applied');
  t.match(await purchaseOf(account, lost.purchaseId), { status: 'disputed', creditsReversed: 1000 });
  t.equal((await wallet(account.shopId)).balance, 1000);
  t.same(await holdsOf(account.shopId), [`billing:dispute:${disputeId(d2)}`], 'a lost dispute keeps the hold for an operator');
  const actions = (await auditActions(account.shopId)).map((a) => a.action);
  for (const a of ['billing.purchase_disputed', 'billing.dispute_won', 'billing.dispute_lost']) t.ok(actions.includes(a), a);
  await ledgerMatchesWallet(db, t, account.shopId);
});

t.test('an event for a session no purchase of ours has waits, and is ignored after Stripe’s redelivery window', async (t) => {
  const stranger = { id: `evt_${randomUUID().replace(/-/g, '')}`, object: 'event', type: 'checkout.session.completed', created: Math.floor(Date.now() / 1000), livemode: false, data: { object: { id: 'cs_test_notours', object: 'checkout.session', status: 'complete', payment_status: 'paid', amount_total: 1500, currency: 'usd', client_reference_id: randomUUID(), payment_intent: 'pi_notours', metadata: {} } } };
  t.equal((await postStripeEvent(app, fake, stranger as never)).statusCode, 200);
  t.equal(await applyStripeEvent(db.workerDb, stranger.id), 'waiting');
  await db.admin.query(`update app.stripe_events set received_at = now() - interval '4 days' where id = $1`, [stranger.id]);
  fake.setOutage(false);
  await reconcileBilling(db.workerDb, workerStripe, new Date()).catch(() => undefined);
  const status = await eventStatus(stranger.id);
  t.equal(status?.status, 'ignored');
});

t.test('Stripe unreachable: the purchase fails cleanly with 503 and Retry-After; nothing is charged', async (t) => {
  const account = await signUp(app);
  fake.setOutage(true);
  t.teardown(() => fake.setOutage(false));
  const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload: { packageId: 'starter' } });
  t.equal(res.statusCode, 503);
  t.equal(res.json().error.code, 'PAYMENTS_UNAVAILABLE');
  t.ok(res.headers['retry-after']);
  const { rows } = await db.admin.query(`select status, failure_reason from app.credit_purchases where shop_id = $1`, [account.shopId]);
  t.same(rows, [{ status: 'failed', failure_reason: 'checkout_unavailable' }]);
});

t.test('without Stripe configured: the billing routes and the webhook answer 503 with the envelope', async (t) => {
  const bare = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  const account = await signUp(bare.app);
  const buy = await bare.app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload: { packageId: 'starter' } });
  t.equal(buy.statusCode, 503);
  t.equal(buy.json().error.code, 'BILLING_NOT_CONFIGURED');
  const hook = await bare.app.inject({ method: 'POST', url: '/webhooks/stripe', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' }, payload: '{}' });
  t.equal(hook.statusCode, 503);
  t.equal(hook.json().error.code, 'BILLING_NOT_CONFIGURED');
});

t.test('the catalogue changes only by the operator command (as the owner role); purchases keep what they copied', async (t) => {
  const { createDb, createPool } = await import('../src/db/kysely.js');
  const { runPackageCommand } = await import('../src/modules/billing/packages-operator.js');
  const owner = createDb(createPool({ connectionString: db.ownerUrl, poolSize: 1, applicationName: 'test-owner' }));
  t.teardown(() => owner.destroy());
  await t.rejects(db.apiPool.query(`insert into app.credit_packages (id, name, credits, amount_minor, currency) values ('free', 'Free', 1000000, 1, 'usd')`), /permission denied/, 'the API role cannot add a package');
  await t.rejects(db.apiPool.query(`update app.credit_packages set amount_minor = 1`), /permission denied/, 'nor reprice one');
  const account = await signUp(app);
  const before = await startPurchaseVia(app, fake, account, 'starter');
  await runPackageCommand(owner, { action: 'set', id: 'starter', name: '1,000 credits', credits: 1000, amountMinor: 1900, currency: 'usd', sortOrder: 10 });
  t.equal((await purchaseOf(account, before.purchaseId)).amount, 1500, 'an existing purchase keeps its price');
  await runPackageCommand(owner, { action: 'set', id: 'mega', name: 'Mega', credits: 100000, amountMinor: 90000, currency: 'usd', sortOrder: 40 });
  const ids = (await app.inject({ method: 'GET', url: '/api/v1/billing/packages', headers: account.headers })).json().items.map((p: { id: string }) => p.id);
  t.same(ids, ['starter', 'growth', 'scale', 'mega']);
  await runPackageCommand(owner, { action: 'deactivate', id: 'mega' });
  const res = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: account.headers, payload: { packageId: 'mega' } });
  t.equal(res.statusCode, 404, 'an inactive package cannot be bought');
  await runPackageCommand(owner, { action: 'set', id: 'starter', name: '1,000 credits', credits: 1000, amountMinor: 1500, currency: 'usd', sortOrder: 10 });
});

t.test('after everything above: every shop’s ledger sums to its wallet, and no purchase was credited twice', async (t) => {
  const { rows } = await db.admin.query(`select shop_id from app.wallets`);
  t.ok(rows.length > 10);
  for (const { shop_id: shopId } of rows) await ledgerMatchesWallet(db, t, shopId);
  const { rows: doubles } = await db.admin.query(`select reference_id from app.credit_ledger where kind = 'purchase' group by shop_id, reference_id having count(*) > 1`);
  t.same(doubles, []);
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /pigeon_billing_purchases_total\{status="pending"\} \d+/);
  t.match(metrics.body, /pigeon_billing_purchases_total\{status="paid"\} \d+/);
  t.match(metrics.body, /pigeon_webhook_signature_failures_total\{source="stripe"\} \d+/);
});

t.test('starting purchases is limited per shop (10 a minute): the 11th is 429, another shop is not affected', async (t) => {
  const busy = await signUp(app);
  const other = await signUp(app);
  const statuses: number[] = [];
  for (let i = 0; i < 11; i++) statuses.push((await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: busy.headers, payload: { packageId: 'starter' } })).statusCode);
  t.same(statuses.slice(0, 10), Array(10).fill(201));
  t.equal(statuses[10], 429);
  const limited = await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: busy.headers, payload: { packageId: 'starter' } });
  t.ok(limited.headers['retry-after'], 'Retry-After says when');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/billing/purchases', headers: other.headers, payload: { packageId: 'starter' } })).statusCode, 201, 'the limit is the shop’s, not the address’s');
});
