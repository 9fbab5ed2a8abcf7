// Shopify install and sign-in, as the attacks: a forged or tampered callback, a replayed,
// expired, foreign or cross-browser state, a look-alike shop domain, session tokens that
// are unsigned, mis-signed, for another app or another shop, expired, or for a shop that
// never installed. A fake Shopify on 127.0.0.1 plays the token endpoint.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { startFakeShopify } from './helpers/fake-shopify.js';
import { oauthQueryString, shopifySessionClaims, signOAuthQuery, signSessionToken } from './helpers/shopify-signing.js';

const API_KEY = 'pigeon-test-app';
const API_SECRET = 'shpss_0123456789abcdef0123456789abcdef';
const db = await createTestDatabase(t);
const fake = await startFakeShopify(API_KEY, API_SECRET);
t.teardown(() => fake.close());
const testApp = await buildTestApp(t, db.apiDb, {
  SHOPIFY_API_KEY: API_KEY,
  SHOPIFY_API_SECRET: API_SECRET,
  SHOPIFY_ADMIN_URL: fake.adminUrlTemplate,
  PUBLIC_BASE_URL: 'https://pigeon.example',
});
const { app } = testApp;
let ip = 0;
const newShop = () => `shop-${randomUUID().slice(0, 8)}.myshopify.com`;

/** GET /install as a browser: the state from the redirect and the cookie that binds it. */
async function install(shop: string) {
  const res = await app.inject({ url: `/api/v1/shopify/install?shop=${shop}`, remoteAddress: `198.51.100.${++ip % 250}` });
  const location = new URL(res.headers.location as string);
  const cookie = [res.headers['set-cookie']].flat().find((c) => c?.startsWith('pigeon_shopify_state='))!;
  return { res, location, state: location.searchParams.get('state')!, cookie: cookie.split(';')[0]! };
}

function callback(params: Record<string, string>, cookie?: string, sign = true) {
  const query = sign ? signOAuthQuery(params, API_SECRET) : params;
  return app.inject({ url: `/api/v1/shopify/callback?${oauthQueryString(query)}`, headers: cookie ? { cookie } : {}, remoteAddress: `198.51.100.${++ip % 250}` });
}

const callbackParams = (shop: string, state: string, code: string) => ({ code, shop, state, timestamp: String(Math.floor(Date.now() / 1000)), host: Buffer.from(`${shop}/admin`).toString('base64url') });

async function shopRow(shop: string) {
  const { rows } = await db.admin.query('select id, shopify_access_token from app.shops where shopify_domain = $1', [shop]);
  return rows[0] as { id: string; shopify_access_token: string } | undefined;
}

async function installed(shop: string) {
  const { state, cookie } = await install(shop);
  const { code, accessToken } = fake.approve(shop);
  const res = await callback(callbackParams(shop, state, code), cookie);
  return { res, accessToken };
}

t.test('install redirects to Shopify with a single-use state stored only as a hash', async (t) => {
  const shop = newShop();
  const { res, location, state, cookie } = await install(shop);
  t.equal(res.statusCode, 302);
  t.equal(`${location.origin}${location.pathname}`, `${fake.adminUrlTemplate.replace('{shop}', shop)}/admin/oauth/authorize`);
  t.equal(location.searchParams.get('client_id'), API_KEY);
  t.equal(location.searchParams.get('redirect_uri'), 'https://pigeon.example/api/v1/shopify/callback');
  t.match(state, /^[A-Za-z0-9_-]{43}$/, '32 random bytes');
  t.match(cookie, /^pigeon_shopify_state=/);
  const { rows } = await db.admin.query(`select encode(state_hash, 'hex') as hash, shop_domain, expires_at - created_at as ttl from app.shopify_oauth_states where shop_domain = $1`, [shop]);
  t.equal(rows.length, 1);
  t.not(rows[0].hash, Buffer.from(state).toString('hex'), 'not the state itself');
  t.equal(rows[0].ttl.minutes, 10);
  t.equal(await shopRow(shop), undefined, 'install alone creates no shop');
});

t.test('install refuses a look-alike domain and a tampered signed link', async (t) => {
  for (const shop of ['evil.com', 'x.myshopify.com.evil.com', 'evil.com%2F.myshopify.com', 'user%40x.myshopify.com']) {
    const res = await app.inject({ url: `/api/v1/shopify/install?shop=${shop}` });
    t.equal(res.statusCode, 400, shop);
  }
  const signed = signOAuthQuery({ shop: newShop(), timestamp: String(Math.floor(Date.now() / 1000)) }, API_SECRET);
  const tampered = { ...signed, shop: newShop() };
  t.equal((await app.inject({ url: `/api/v1/shopify/install?${oauthQueryString(tampered)}` })).statusCode, 401);
  t.equal((await app.inject({ url: `/api/v1/shopify/install?${oauthQueryString(signed)}` })).statusCode, 302, 'the untampered link works');
});

t.test('a verified callback creates the shop, stores its token encrypted and audits the install', async (t) => {
  const shop = newShop();
  const { res, accessToken } = await installed(shop);
  t.equal(res.statusCode, 302);
  t.equal(res.headers.location, `${fake.adminUrlTemplate.replace('{shop}', shop)}/admin/apps/${API_KEY}`);
  const row = await shopRow(shop);
  t.ok(row, 'the shop exists');
  t.match(row!.shopify_access_token, /^v1\./, 'key-ring ciphertext');
  const { rows: clear } = await db.admin.query(`select 1 from app.shops s where s::text like '%' || $1 || '%'`, [accessToken]);
  t.equal(clear.length, 0, 'no column holds the token in clear');
  const { rows: audit } = await db.admin.query(`select action, metadata from app.audit_events where shop_id = $1`, [row!.id]);
  t.same(audit.map((a) => a.action), ['shop.install']);
  t.notOk(JSON.stringify(audit).includes(accessToken));
  t.notOk(testApp.rawLogs().includes(accessToken), 'the logs hold no access token');
});

t.test('a reinstall keeps the shop and replaces its token', async (t) => {
  const shop = newShop();
  await installed(shop);
  const before = await shopRow(shop);
  const again = await installed(shop);
  t.equal(again.res.statusCode, 302);
  const after = await shopRow(shop);
  t.equal(after!.id, before!.id);
  t.not(after!.shopify_access_token, before!.shopify_access_token);
  const { rows } = await db.admin.query(`select action from app.audit_events where shop_id = $1 order by created_at`, [after!.id]);
  t.same(rows.map((r) => r.action), ['shop.install', 'shop.reinstall']);
});

t.test('a reinstall after an uninstall clears the uninstall mark and its sending hold, and keeps other holds', async (t) => {
  const shop = newShop();
  await installed(shop);
  const { id } = (await shopRow(shop))!;
  await db.admin.query(`update app.shops set uninstalled_at = now(), shopify_access_token = null where id = $1`, [id]);
  await db.admin.query(`update app.shop_settings set sending_holds = array['billing:dispute:dp_1', 'shopify:uninstalled'] where shop_id = $1`, [id]);
  const before = new Date();
  t.equal((await installed(shop)).res.statusCode, 302);
  const { rows } = await db.admin.query(`select s.uninstalled_at, s.shopify_installed_at, s.shopify_access_token, st.sending_holds from app.shops s join app.shop_settings st on st.shop_id = s.id where s.id = $1`, [id]);
  t.equal(rows[0].uninstalled_at, null);
  t.ok(rows[0].shopify_installed_at >= new Date(before.getTime() - 1000), 'the install time is recorded (a late app/uninstalled from before it changes nothing)');
  t.ok(rows[0].shopify_access_token, 'a fresh token');
  t.same(rows[0].sending_holds, ['billing:dispute:dp_1'], 'only the uninstall hold is lifted');
});

t.test('callback attacks are refused before Shopify is called or a shop exists', async (t) => {
  const shop = newShop();
  const { state, cookie } = await install(shop);
  const { code } = fake.approve(shop);
  const calls = fake.requests.length;

  const unsigned = await callback(callbackParams(shop, state, code), cookie, false);
  t.equal(unsigned.statusCode, 401, 'no hmac');
  const forged = signOAuthQuery(callbackParams(shop, state, code), 'not-the-app-secret');
  t.equal((await app.inject({ url: `/api/v1/shopify/callback?${oauthQueryString(forged)}`, headers: { cookie } })).statusCode, 401, 'hmac with another key');
  const tampered = { ...signOAuthQuery(callbackParams(shop, state, code), API_SECRET), code: 'other' };
  t.equal((await app.inject({ url: `/api/v1/shopify/callback?${oauthQueryString(tampered)}`, headers: { cookie } })).statusCode, 401, 'a parameter changed after signing');
  const evil = await callback(callbackParams('evil.com', state, code), cookie);
  t.equal(evil.statusCode, 400, 'signed but not a myshopify domain');
  const other = newShop();
  t.equal((await callback(callbackParams(other, state, code), cookie)).statusCode, 401, "a state issued for another shop");
  t.equal(fake.requests.length, calls, 'Shopify was never called');
  t.equal(await shopRow(shop), undefined);
  t.equal(await shopRow(other), undefined);
});

t.test('a callback whose signed timestamp is more than 90 seconds off is refused, the state kept', async (t) => {
  const shop = newShop();
  const { state, cookie } = await install(shop);
  const { code } = fake.approve(shop);
  const calls = fake.requests.length;
  // Each timestamp is taken right before its request: on a loaded machine seconds pass
  // between requests, and "95 s ahead" computed early could be under 90 s ahead when checked (whole seconds, too).
  const at = (offsetSeconds: number) => Math.floor(Date.now() / 1000) + offsetSeconds;
  for (const [label, offset] of [['two days ago', -2 * 86400], ['95 s ago', -95], ['95 s ahead', 95]] as const) {
    const res = await callback({ ...callbackParams(shop, state, code), timestamp: String(at(offset)) }, cookie);
    t.equal(res.statusCode, 401, label);
    t.equal(res.json().error.code, 'STALE_CALLBACK', label);
  }
  const { timestamp: _omitted, ...noTimestamp } = callbackParams(shop, state, code);
  t.equal((await callback(noTimestamp, cookie)).json().error.code, 'STALE_CALLBACK', 'no timestamp at all');
  t.equal(fake.requests.length, calls, 'Shopify was never called');
  t.equal(await shopRow(shop), undefined);
  const fresh = await callback({ ...callbackParams(shop, state, code), timestamp: String(at(-60)) }, cookie);
  t.equal(fresh.statusCode, 302, '60 s of skew is fine, and the refused attempts did not spend the state');
});

t.test('a state from another browser, a replayed state and an expired state are refused', async (t) => {
  const shop = newShop();
  const first = await install(shop);
  const second = await install(shop);
  const { code } = fake.approve(shop);
  t.equal((await callback(callbackParams(shop, first.state, code), second.cookie)).statusCode, 401, "another browser's cookie");
  t.equal((await callback(callbackParams(shop, first.state, code), first.cookie)).statusCode, 401, 'the failed attempt used the state up');
  t.equal((await callback(callbackParams(shop, second.state, code), undefined)).statusCode, 401, 'no cookie at all');

  const third = await install(shop);
  const ok = fake.approve(shop);
  t.equal((await callback(callbackParams(shop, third.state, ok.code), third.cookie)).statusCode, 302);
  const replay = await callback(callbackParams(shop, third.state, ok.code), third.cookie);
  t.equal(replay.statusCode, 401, 'a state works once');

  const late = await install(shop);
  await db.admin.query(`update app.shopify_oauth_states set expires_at = now() - interval '1 second' where shop_domain = $1`, [shop]);
  const lateCode = fake.approve(shop);
  const expired = await callback(callbackParams(shop, late.state, lateCode.code), late.cookie);
  t.equal(expired.statusCode, 401, 'expired');
  t.equal(expired.json().error.code, 'INVALID_STATE');
});

t.test('Shopify failing the code exchange creates nothing', async (t) => {
  const shop = newShop();
  const { state, cookie } = await install(shop);
  const { code } = fake.approve(shop);
  fake.failWith = 503;
  t.teardown(() => {
    fake.failWith = null;
  });
  const res = await callback(callbackParams(shop, state, code), cookie);
  t.equal(res.statusCode, 502);
  t.equal(await shopRow(shop), undefined);
});

t.test('session-token exchange: first staff user owns the shop, later ones are members', async (t) => {
  const shop = newShop();
  await installed(shop);
  const exchange = (userId: string) =>
    app.inject({ method: 'POST', url: '/api/v1/auth/shopify/session', payload: { sessionToken: signSessionToken(shopifySessionClaims({ shop, apiKey: API_KEY, userId }), API_SECRET) } });
  const first = await exchange('1001');
  t.equal(first.statusCode, 200);
  t.equal(first.json().role, 'owner');
  t.ok([first.headers['set-cookie']].flat().some((c) => c?.startsWith('pigeon_refresh=')), 'a refresh cookie');
  const me = await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${first.json().accessToken}` } });
  t.equal(me.statusCode, 200);
  t.same([me.json().shop.id, me.json().user.email, me.json().role], [(await shopRow(shop))!.id, null, 'owner']);
  const second = await exchange('1002');
  t.equal(second.json().role, 'member');
  const again = await exchange('1001');
  t.equal(again.json().user.id, first.json().user.id, 'the same staff user is the same Pigeon user');
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where action = 'member.add' and shop_id = $1`, [(await shopRow(shop))!.id]);
  t.equal(rows[0].n, 2);
});

t.test('session tokens that must be refused', async (t) => {
  const shop = newShop();
  await installed(shop);
  const claims = shopifySessionClaims({ shop, apiKey: API_KEY });
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, string]> = [
    ['wrong signature', signSessionToken(claims, 'another-secret')],
    ['alg none', signSessionToken(claims, API_SECRET, { alg: 'none', typ: 'JWT' })],
    ['HS512', signSessionToken(claims, API_SECRET, { alg: 'HS512', typ: 'JWT' })],
    ['another app', signSessionToken({ ...claims, aud: 'someone-else' }, API_SECRET)],
    ['dest of another shop', signSessionToken({ ...claims, dest: `https://${newShop()}` }, API_SECRET)],
    ['dest not a shop', signSessionToken({ ...claims, iss: 'https://evil.com/admin', dest: 'https://evil.com' }, API_SECRET)],
    ['expired', signSessionToken({ ...claims, exp: now - 60, nbf: now - 120 }, API_SECRET)],
    ['not yet valid', signSessionToken({ ...claims, nbf: now + 120, exp: now + 180 }, API_SECRET)],
    ['no staff user', signSessionToken({ ...claims, sub: undefined }, API_SECRET)],
    ['a shop that never installed', signSessionToken(shopifySessionClaims({ shop: newShop(), apiKey: API_KEY }), API_SECRET)],
    ['garbage', 'a.b.c'],
  ];
  for (const [name, sessionToken] of cases) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/auth/shopify/session', payload: { sessionToken } });
    t.equal(res.statusCode, 401, name);
    t.notOk(res.body.includes(sessionToken), `${name}: the answer does not echo the token`);
  }
  const { rows } = await db.admin.query(`select count(*)::int as n from app.shopify_staff s join app.shops p on p.id = s.shop_id where p.shopify_domain = $1`, [shop]);
  t.equal(rows[0].n, 0, 'no staff identity was created');
});

t.test('without a configured Shopify app the routes answer 503', async (t) => {
  const bare = await buildTestApp(t, db.apiDb);
  t.equal((await bare.app.inject({ url: `/api/v1/shopify/install?shop=${newShop()}` })).statusCode, 503);
  t.equal((await bare.app.inject({ method: 'POST', url: '/api/v1/auth/shopify/session', payload: { sessionToken: 'a.b.c' } })).statusCode, 503);
});

t.test('the per-IP install limit groups IPv6 by /64: rotating the low 64 bits gives no fresh attempts', async (t) => {
  const inSlash64 = () => `2001:db8:30:1:${Array.from({ length: 4 }, () => Math.floor(Math.random() * 0x10000).toString(16)).join(':')}`;
  const codes: number[] = [];
  for (let i = 0; i < 31; i++) codes.push((await app.inject({ url: `/api/v1/shopify/install?shop=${newShop()}`, remoteAddress: inSlash64() })).statusCode);
  t.same(codes.slice(0, 30), Array(30).fill(302), '30 installs within the window');
  t.equal(codes[30], 429, 'the 31st, from yet another address of the /64, is refused');
  const elsewhere = await app.inject({ url: `/api/v1/shopify/install?shop=${newShop()}`, remoteAddress: '2001:db8:30:2::1' });
  t.equal(elsewhere.statusCode, 302, 'another /64 has its own budget');
});
