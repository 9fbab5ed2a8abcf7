// Contacts and consent, as the attacks and the mistakes: another shop's ids, unknown query
// parameters, bad numbers, an import re-subscribing someone who said STOP, paging while
// contacts arrive, and tampering with the consent evidence.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { withShop } from '../src/db/with-shop.js';
import { recordConsentChange } from '../src/modules/contacts/consent.js';
import { verifyShopChains } from '../src/modules/contacts/consent-chain.js';

const db = await createTestDatabase(t);
const testApp = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const { app } = testApp;
const account = () => signUp(app);
const a = await account();
const b = await account();
let n = 0;
const phone = () => `+1415555${String(1000 + ++n).slice(-4)}`;
const create = (who: { headers: Record<string, string> }, payload: Record<string, unknown>) => app.inject({ method: 'POST', url: '/api/v1/contacts', headers: who.headers, payload });

t.test('phones are stored in E.164, with the shop default region for local numbers', async (t) => {
  const local = await create(a, { phone: '(415) 555-0134', firstName: 'Ann', consent: 'subscribed', tags: [' VIP ', 'vip', 'new'] });
  t.equal(local.statusCode, 201);
  t.same([local.json().phone, local.json().country, local.json().timeZone, local.json().tags], ['+14155550134', 'US', 'America/New_York', ['vip', 'new']]);
  const intl = await create(a, { phone: '+33 6 12 34 56 78' });
  t.same([intl.json().phone, intl.json().country, intl.json().consent], ['+33612345678', 'FR', 'never']);
  for (const bad of ['12', 'not a number', '+1 555 0000 00000 0']) {
    const res = await create(a, { phone: bad });
    t.equal(res.statusCode, 400, bad);
    t.same(res.json().error.details.map((d: { field: string }) => d.field), ['body.phone']);
  }
  const duplicate = await create(a, { phone: '+1 415 555 0134' });
  t.equal(duplicate.statusCode, 409, 'the same number twice in one shop');
  const elsewhere = await create(b, { phone: '+14155550134' });
  t.equal(elsewhere.statusCode, 201, 'the same number in another shop is another contact');
  t.notOk(JSON.stringify(elsewhere.json()).includes('Ann'), "and shows nothing of the first shop's contact");
});

t.test("another shop's contact is 404 for every route", async (t) => {
  const theirs = (await create(b, { phone: phone(), firstName: 'Bob' })).json().id;
  for (const [method, url, payload] of [
    ['GET', `/api/v1/contacts/${theirs}`, undefined],
    ['PATCH', `/api/v1/contacts/${theirs}`, { firstName: 'Mallory' }],
    ['DELETE', `/api/v1/contacts/${theirs}`, undefined],
    ['GET', `/api/v1/contacts/${theirs}/consent`, undefined],
    ['POST', `/api/v1/contacts/${theirs}/consent`, { state: 'unsubscribed' }],
    ['GET', `/api/v1/contacts/${theirs}/data`, undefined],
  ] as const) {
    const res = await app.inject({ method, url, headers: a.headers, ...(payload ? { payload } : {}) });
    t.equal(res.statusCode, 404, `${method} ${url}`);
  }
  const still = await app.inject({ url: `/api/v1/contacts/${theirs}`, headers: b.headers });
  t.same([still.json().firstName, still.json().consent], ['Bob', 'never'], 'untouched');
});

t.test('unknown or malformed query parameters are refused', async (t) => {
  for (const query of ['foo=1', 'limit=0', 'limit=201', 'consent=maybe', 'createdFrom=yesterday', 'cursor=%%%', "q=' or 1=1"]) {
    const res = await app.inject({ url: `/api/v1/contacts?${query}`, headers: a.headers });
    t.ok(res.statusCode === 400 || (query.startsWith('q=') && res.statusCode === 200), query);
  }
});

t.test('filters and search', async (t) => {
  const tag = `t${randomUUID().slice(0, 8)}`;
  await create(a, { phone: phone(), firstName: 'Zelda', tags: [tag], consent: 'subscribed' });
  await create(a, { phone: '+14155559876', lastName: 'Zimmer', tags: [tag] });
  const byTag = await app.inject({ url: `/api/v1/contacts?tag=${tag}`, headers: a.headers });
  t.equal(byTag.json().items.length, 2);
  const byTagAndConsent = await app.inject({ url: `/api/v1/contacts?tag=${tag}&consent=subscribed`, headers: a.headers });
  t.same(byTagAndConsent.json().items.map((c: { firstName: string }) => c.firstName), ['Zelda']);
  const byName = await app.inject({ url: '/api/v1/contacts?q=zim', headers: a.headers });
  t.same(byName.json().items.map((c: { lastName: string }) => c.lastName), ['Zimmer']);
  const byPhone = await app.inject({ url: '/api/v1/contacts?q=%2B1415555987', headers: a.headers });
  t.same(byPhone.json().items.map((c: { phone: string }) => c.phone), ['+14155559876']);
  // The search is a range [prefix, prefix with its last digit + 1): a prefix ending in 9
  // must still find its numbers and nothing past them.
  await create(a, { phone: '+14157779990' });
  await create(a, { phone: '+14157780000' });
  const byPrefixNine = await app.inject({ url: '/api/v1/contacts?q=%2B1415777999', headers: a.headers });
  t.same(byPrefixNine.json().items.map((c: { phone: string }) => c.phone), ['+14157779990']);
});

t.test("a search never finds another shop's contacts", async (t) => {
  const mine = await account();
  const theirs = await account();
  await create(theirs, { phone: '+17205550101', firstName: 'Quillon' });
  await create(mine, { phone: '+17205550199' });
  const byPhone = await app.inject({ url: '/api/v1/contacts?q=%2B1720555', headers: mine.headers });
  t.same(byPhone.json().items.map((c: { phone: string }) => c.phone), ['+17205550199']);
  const byName = await app.inject({ url: '/api/v1/contacts?q=quill', headers: mine.headers });
  t.same(byName.json().items, []);
});

t.test('a phone search pages in the same order as the plain list, each match once', async (t) => {
  const shop = await account();
  for (let i = 0; i < 12; i++) await create(shop, { phone: `+1303555${String(4000 + i)}` });
  await create(shop, { phone: '+13035559999' });
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const res: { json(): { items: Array<{ id: string }>; nextCursor: string | null } } = await app.inject({
      url: `/api/v1/contacts?q=%2B13035554&limit=5${cursor ? `&cursor=${cursor}` : ''}`,
      headers: shop.headers,
    });
    ids.push(...res.json().items.map((c) => c.id));
    cursor = res.json().nextCursor;
  } while (cursor);
  const all = (await app.inject({ url: '/api/v1/contacts?limit=100', headers: shop.headers })).json().items as Array<{ id: string; phone: string }>;
  t.same(ids, all.filter((c) => c.phone.startsWith('+13035554')).map((c) => c.id));
});

t.test('paging returns each contact exactly once while contacts are added between pages', async (t) => {
  const shop = await account();
  for (let i = 0; i < 25; i++) await create(shop, { phone: `+1212555${String(2000 + i)}` });
  const seen: string[] = [];
  let cursor: string | null = null;
  let added = 0;
  do {
    const res: { json(): { items: Array<{ id: string }>; nextCursor: string | null } } = await app.inject({ url: `/api/v1/contacts?limit=7${cursor ? `&cursor=${cursor}` : ''}`, headers: shop.headers });
    seen.push(...res.json().items.map((c: { id: string }) => c.id));
    cursor = res.json().nextCursor;
    if (added < 3) await create(shop, { phone: `+1212555${String(3000 + added++)}` });
  } while (cursor);
  t.equal(seen.length, 28, 'the 25 and the 3 added while paging');
  t.equal(new Set(seen).size, seen.length, 'no contact twice');
});

t.test('an import can never re-subscribe a contact who unsubscribed; an explicit opt-in can', async (t) => {
  const id = (await create(a, { phone: phone(), consent: 'subscribed' })).json().id;
  const stop = await app.inject({ method: 'POST', url: `/api/v1/contacts/${id}/consent`, headers: a.headers, payload: { state: 'unsubscribed' } });
  t.equal(stop.json().consent, 'unsubscribed');
  const viaImport = await withShop(db.apiDb, a.shopId, (tx) => recordConsentChange(tx, { shopId: a.shopId, contactId: id, state: 'subscribed', source: 'import', actor: { kind: 'system' } }));
  t.equal(viaImport, 'refused');
  t.equal((await app.inject({ url: `/api/v1/contacts/${id}`, headers: a.headers })).json().consent, 'unsubscribed');
  const optIn = await app.inject({ method: 'POST', url: `/api/v1/contacts/${id}/consent`, headers: a.headers, payload: { state: 'subscribed', source: 'admin' } });
  t.equal(optIn.json().consent, 'subscribed');
  const history = (await app.inject({ url: `/api/v1/contacts/${id}/consent`, headers: a.headers })).json().items;
  t.same(history.map((e: { state: string; source: string }) => `${e.source}:${e.state}`), ['api:subscribed', 'api:unsubscribed', 'admin:subscribed']);
  t.equal(history[1].prevHash, history[0].hash, 'each link names the previous one');
  t.equal(history[2].actor.id, a.userId, 'and who made the change');
  // PATCH cannot change consent behind the history's back.
  t.equal((await app.inject({ method: 'PATCH', url: `/api/v1/contacts/${id}`, headers: a.headers, payload: { consent: 'never' } })).statusCode, 400);
});

t.test('the run-time roles cannot rewrite or delete consent evidence', async (t) => {
  for (const pool of [db.apiPool, db.workerPool]) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.shop_id', $1, true)`, [a.shopId]);
      await t.rejects(client.query(`update app.consent_events set state = 'subscribed'`), { code: '42501' });
      await client.query('rollback');
      await client.query('begin');
      await client.query(`select set_config('app.shop_id', $1, true)`, [a.shopId]);
      await t.rejects(client.query(`delete from app.consent_events`), { code: '42501' });
      await client.query('rollback');
    } finally {
      client.release();
    }
  }
});

t.test('deleting a contact removes its PII and keeps the chain valid', async (t) => {
  const shop = await account();
  const created = (await create(shop, { phone: '+14155550999', email: 'gone@example.test', firstName: 'Gone', consent: 'subscribed' })).json();
  await app.inject({ method: 'POST', url: `/api/v1/contacts/${created.id}/consent`, headers: shop.headers, payload: { state: 'unsubscribed' } });
  const data = await app.inject({ url: `/api/v1/contacts/${created.id}/data`, headers: shop.headers });
  t.equal(data.json().contact.email, 'gone@example.test', 'the data request returns what is held');
  t.equal(data.json().consentHistory.length, 2);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/contacts/${created.id}`, headers: shop.headers })).statusCode, 204);
  t.equal((await app.inject({ url: `/api/v1/contacts/${created.id}`, headers: shop.headers })).statusCode, 404);
  const { rows } = await db.admin.query(`select c::text as contact from app.contacts c where id = $1`, [created.id]);
  for (const pii of ['4155550999', 'gone@example.test', 'Gone']) t.notOk(rows[0].contact.includes(pii), `contact row holds no ${pii}`);
  const { rows: events } = await db.admin.query(`select e::text as event from app.consent_events e where contact_id = $1`, [created.id]);
  t.equal(events.length, 2, 'the evidence stays');
  for (const e of events) t.notOk(e.event.includes('4155550999'), 'without the phone');
  const verify = await app.inject({ url: '/api/v1/consent/verify', headers: shop.headers });
  t.same(verify.json(), { ok: true, contacts: 1, events: 2, firstBroken: null });
  const { rows: audit } = await db.admin.query(`select 1 from app.audit_events where shop_id = $1 and action = 'contact.redact'`, [shop.shopId]);
  t.equal(audit.length, 1, 'the redaction is recorded');
  t.equal((await create(shop, { phone: '+14155550999' })).statusCode, 201, 'the number may come back as a new contact');
});

t.test('tampering with the consent chain is found and the first broken link named', async (t) => {
  const shop = await account();
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = (await create(shop, { phone: `+1617555${1000 + i}`, consent: 'subscribed' })).json().id;
    await app.inject({ method: 'POST', url: `/api/v1/contacts/${id}/consent`, headers: shop.headers, payload: { state: 'unsubscribed' } });
    await app.inject({ method: 'POST', url: `/api/v1/contacts/${id}/consent`, headers: shop.headers, payload: { state: 'subscribed' } });
    ids.push(id);
  }
  const verify = () => withShop(db.apiDb, shop.shopId, (tx) => verifyShopChains(tx, shop.shopId, 2));
  t.same(await verify(), { ok: true, contacts: 3, events: 9, firstBroken: null });
  const target = ids[1]!;
  // Each tampering is committed (the verifier runs on another connection), then undone
  // from a snapshot of the contact's events.
  const { rows: snapshot } = await db.admin.query(`select json_agg(e)::text as events from app.consent_events e where shop_id = $1 and contact_id = $2`, [shop.shopId, target]);
  const restore = async () => {
    await db.admin.query(`delete from app.consent_events where shop_id = $1 and contact_id = $2`, [shop.shopId, target]);
    await db.admin.query(`insert into app.consent_events select * from json_populate_recordset(null::app.consent_events, $1::json)`, [snapshot[0].events]);
  };
  const tamper = async (label: string, statements: string | string[], expected: { seq: number; reason: RegExp }) => {
    try {
      for (const statement of [statements].flat()) await db.admin.query(statement, [shop.shopId, target]);
      const report = await verify();
      t.equal(report.ok, false, label);
      t.equal(report.firstBroken?.contactId, target, `${label}: the contact`);
      t.equal(report.firstBroken?.seq, expected.seq, `${label}: the link`);
      t.match(report.firstBroken?.reason, expected.reason, label);
    } finally {
      await restore();
    }
  };
  await tamper('a state rewritten', `update app.consent_events set state = 'subscribed' where shop_id = $1 and contact_id = $2 and seq = 2`, { seq: 2, reason: /does not match its hash/ });
  await tamper('a source rewritten', `update app.consent_events set source = 'admin' where shop_id = $1 and contact_id = $2 and seq = 1`, { seq: 1, reason: /does not match its hash/ });
  await tamper('a hash replaced', `update app.consent_events set hash = sha256('x') where shop_id = $1 and contact_id = $2 and seq = 1`, { seq: 1, reason: /does not match its hash/ });
  await tamper('a middle link deleted', `delete from app.consent_events where shop_id = $1 and contact_id = $2 and seq = 2`, { seq: 2, reason: /missing/ });
  await tamper('the last link deleted', `delete from app.consent_events where shop_id = $1 and contact_id = $2 and seq = 3`, { seq: 3, reason: /missing at the end/ });
  await tamper(
    'two links swapped',
    [
      `update app.consent_events set seq = 100 where shop_id = $1 and contact_id = $2 and seq = 2`,
      `update app.consent_events set seq = 2 where shop_id = $1 and contact_id = $2 and seq = 3`,
      `update app.consent_events set seq = 3 where shop_id = $1 and contact_id = $2 and seq = 100`,
    ],
    { seq: 2, reason: /prev_hash|hash/ },
  );
  await tamper('the phone in the evidence changed', `update app.consent_events set pii_phone = '+16175559999' where shop_id = $1 and contact_id = $2 and seq = 1`, { seq: 1, reason: /digest/ });
  // No foreign key holds events to contacts (migration 0041): the verifier does.
  {
    const orphan = '00000000-0000-4000-8000-00000000beef';
    await db.admin.query(`insert into app.consent_events (shop_id, contact_id, seq, state, source, actor_kind, occurred_at, pii_digest, prev_hash, hash)
                          values ($1, $2, 1, 'subscribed', 'api', 'system', now(), sha256('x'), sha256('y'), sha256('z'))`, [shop.shopId, orphan]);
    try {
      const report = await verify();
      t.equal(report.ok, false, 'a link for no contact of the shop breaks the chain');
      t.equal(report.firstBroken?.contactId, orphan);
      t.match(report.firstBroken?.reason, /names no contact/);
    } finally {
      await db.admin.query(`delete from app.consent_events where shop_id = $1 and contact_id = $2`, [shop.shopId, orphan]);
    }
  }
  t.same(await verify(), { ok: true, contacts: 3, events: 9, firstBroken: null }, 'the untouched chain verifies again');
});

t.test('members write contacts; only owners and admins verify or request data', async (t) => {
  const member = await account();
  await db.admin.query(`insert into app.memberships (shop_id, user_id, role) values ($1, $2, 'member')`, [a.shopId, member.userId]);
  const switched = await app.inject({ method: 'POST', url: `/api/v1/shops/${a.shopId}/switch`, headers: member.headers });
  const asMember = { headers: { authorization: `Bearer ${switched.json().accessToken}` } };
  t.equal((await create(asMember, { phone: phone() })).statusCode, 201);
  t.equal((await app.inject({ url: '/api/v1/consent/verify', headers: asMember.headers })).statusCode, 403);
  t.equal((await app.inject({ url: '/api/v1/contacts/export', headers: asMember.headers })).statusCode, 403, 'members cannot export the audience');
  const someone = (await app.inject({ url: '/api/v1/contacts?limit=1', headers: asMember.headers })).json().items[0].id;
  t.equal((await app.inject({ url: `/api/v1/contacts/${someone}/data`, headers: asMember.headers })).statusCode, 403, 'nor answer data requests');
});

t.test('the logs hold no phone number or e-mail', async (t) => {
  const raw = testApp.rawLogs();
  t.notOk(raw.includes('4155550134'));
  t.notOk(raw.includes('gone@example.test'));
});

t.test('export streams every live contact as CSV with formula cells neutralised', async (t) => {
  const shop = await account();
  await create(shop, { phone: '+12125550001', firstName: '=cmd|" /C calc"!A0', lastName: '+SUM(1)', tags: ['@home'], consent: 'subscribed' });
  await create(shop, { phone: '+12125550002', firstName: 'Plain, "quoted"', lastName: '-minus' });
  const gone = (await create(shop, { phone: '+12125550003' })).json().id;
  await app.inject({ method: 'DELETE', url: `/api/v1/contacts/${gone}`, headers: shop.headers });
  const res = await app.inject({ url: '/api/v1/contacts/export', headers: shop.headers });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/csv/);
  const lines = res.body.trim().split('\r\n');
  t.equal(lines.length, 3, 'header and the two live contacts');
  t.match(lines[1], /,"'=cmd\|"" \/C calc""!A0",'\+SUM\(1\),'@home,subscribed,/);
  t.match(lines[2], /,"Plain, ""quoted""",'-minus,/);
  t.notOk(res.body.includes('+12125550003'));
  const filtered = await app.inject({ url: '/api/v1/contacts/export?consent=subscribed', headers: shop.headers });
  t.equal(filtered.body.trim().split('\r\n').length, 2);
  const other = await account();
  t.equal((await app.inject({ url: '/api/v1/contacts/export', headers: other.headers })).body.trim().split('\r\n').length, 1, "another shop's export has only the header");
});
