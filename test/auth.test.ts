// Identity, written as the attacks: enumeration, brute force, token forgery, refresh theft.
import t from 'tap';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp, STRONG_SECRET } from './helpers/app.js';
import { bearer, cookieOf, logIn, signUp, signUpRequest, TEST_PASSWORD, whoAmI } from './helpers/accounts.js';
import { hashPassword, passwordVerificationCount } from '../src/lib/password-hash.js';

const db = await createTestDatabase(t);
// Cheap argon2 parameters keep the suite fast; the policy and the code paths are the same.
const env = { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', RATE_LIMIT_MAX: '100000', JWT_ISSUER: 'pigeon-test', JWT_AUDIENCE: 'pigeon-test-api' };
const { app, rawLogs } = await buildTestApp(t, db.apiDb, env);

const PASSWORD = TEST_PASSWORD;
const login = (email: string, password: string, remoteAddress?: string) => logIn(app, email, password, remoteAddress);
const me = (token: string) => whoAmI(app, token);
const refreshCookieOf = (res: LightMyRequestResponse) => cookieOf(res, 'pigeon_refresh');

function forge(header: Record<string, unknown>, payload: Record<string, unknown>, secret = STRONG_SECRET, alg = 'sha256'): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc(header)}.${enc(payload)}`;
  const signature = alg === 'none' ? '' : createHmac(alg, secret).update(body).digest('base64url');
  return `${body}.${signature}`;
}

t.test('signup creates user, shop and owner membership together, and a strict refresh cookie', async (t) => {
  const { response: res, email } = await signUp(app, { shopName: 'Acme' });
  const body = res.json();
  t.equal(res.statusCode, 201);
  t.same(Object.keys(body).sort(), ['accessToken', 'expiresIn', 'shop', 'user']);
  t.equal(body.user.email, email);
  t.equal(body.expiresIn, 900);
  const claims = app.jwt.decode<{ iat: number; exp: number; iss: string; aud: string; typ: string }>(body.accessToken)!;
  t.equal(claims.exp - claims.iat, 900, 'the access token lives 15 minutes');
  t.same([claims.iss, claims.aud, claims.typ], ['pigeon-test', 'pigeon-test-api', 'access']);
  const cookie = (res.cookies as Array<Record<string, unknown>>).find((c) => c.name === 'pigeon_refresh')!;
  t.ok(cookie.httpOnly, 'HttpOnly');
  t.ok(cookie.secure, 'Secure outside development');
  t.equal(cookie.sameSite, 'Strict');
  t.equal(cookie.path, '/api/v1/auth');
  const { rows } = await db.admin.query(
    `select m.role, s.name, (select count(*)::int from app.shop_settings where shop_id = s.id) as settings
       from app.memberships m join app.shops s on s.id = m.shop_id where m.user_id = $1`,
    [body.user.id],
  );
  t.same(rows, [{ role: 'owner', name: 'Acme', settings: 1 }]);
  const who = await me(body.accessToken);
  t.equal(who.statusCode, 200);
  t.same(who.json(), { user: body.user, shop: body.shop, role: 'owner' });
  t.equal(who.headers['cache-control'], 'no-store');
});

t.test('the password policy is enforced at signup', async (t) => {
  for (const [password, reason] of [
    ['short-pass1', 'too_short'],
    ['x'.repeat(129), 'too_long'],
  ] as const) {
    const res = await signUpRequest(app, { password });
    const body = res.json();
    t.equal(res.statusCode, 400, reason);
    t.equal(body.error.code, 'WEAK_PASSWORD');
    t.ok(body.error.details.some((d: { field: string; reason?: string }) => d.field === 'body.password' && d.reason === reason), reason);
  }
  const email = `someone.unique@example.test`;
  const res = await signUpRequest(app, { email, password: 'someone.unique-is-my-password' });
  const body = res.json();
  t.equal(res.statusCode, 400, 'a password containing the e-mail');
  t.ok(body.error.details.some((d: { reason?: string }) => d.reason === 'contains_email'));
});

t.test('unknown e-mail and wrong password get the same answer', async (t) => {
  const { email } = await signUp(app);
  const unknown = await login(`${randomUUID()}@example.test`, PASSWORD);
  const wrong = await login(email, 'not the right password at all');
  t.equal(unknown.statusCode, 401);
  t.equal(wrong.statusCode, 401);
  const strip = (r: LightMyRequestResponse) => ({ ...r.json().error, requestId: undefined });
  t.same(strip(unknown), strip(wrong));
  t.equal(refreshCookieOf(unknown), undefined);
});

t.test('every sign-in path does one argon2 verification: no enumeration by timing', async (t) => {
  const { email, userId } = await signUp(app);
  const cost = async (fn: () => Promise<unknown>) => {
    const before = passwordVerificationCount();
    await fn();
    return passwordVerificationCount() - before;
  };
  t.equal(await cost(() => login(`${randomUUID()}@example.test`, PASSWORD)), 1, 'unknown e-mail');
  t.equal(await cost(() => login(email, 'not the right password at all')), 1, 'wrong password');
  t.equal(await cost(() => login(email, PASSWORD)), 1, 'right password');
  await db.admin.query(`update app.users set locked_until = now() + interval '1 minute' where id = $1`, [userId]);
  t.equal(await cost(() => login(email, PASSWORD)), 1, 'locked account');
});

t.test('lockout: five failures lock the account whatever the address; it is audited and notified', async (t) => {
  const { email, userId } = await signUp(app);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await login(email, `wrong password number ${i}`)).statusCode);
  t.same(statuses, [401, 401, 401, 401, 423], 'rotating addresses does not help');
  const locked = await login(email, PASSWORD);
  t.equal(locked.statusCode, 423, 'even the right password is refused while locked');
  t.equal(locked.json().error.code, 'ACCOUNT_LOCKED');
  t.ok(Number(locked.headers['retry-after']) > 1700, 'Retry-After about 30 minutes');
  const outbox = await db.admin.query(`select kind from app.notification_outbox where user_id = $1`, [userId]);
  t.same(outbox.rows, [{ kind: 'account.locked' }]);
  const audit = await db.admin.query(`select action, result from app.audit_events where user_id = $1 and action = 'auth.lockout'`, [userId]);
  t.same(audit.rows, [{ action: 'auth.lockout', result: 'denied' }]);
  // After the lock expires the right password works and the counter resets.
  await db.admin.query(`update app.users set locked_until = now() - interval '1 second' where id = $1`, [userId]);
  t.equal((await login(email, PASSWORD)).statusCode, 200);
  const { rows } = await db.admin.query(`select failed_login_count from app.users where id = $1`, [userId]);
  t.equal(rows[0].failed_login_count, 0);
});

t.test('the per-IP login limit answers 429 with Retry-After', async (t) => {
  const ip = '203.0.113.99';
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) codes.push((await login(`${randomUUID()}@example.test`, 'whatever password', ip)).statusCode);
  t.same(codes, [401, 401, 401, 401, 401, 429]);
});

// Any address in 2001:db8:<prefix>::/64, with random low 64 bits.
const inSlash64 = (prefix: string) => `2001:db8:${prefix}:${Array.from({ length: 4 }, () => Math.floor(Math.random() * 0x10000).toString(16)).join(':')}`;

t.test('the per-IP login and signup limits group IPv6 by /64: rotating the low 64 bits gives no fresh attempts', async (t) => {
  const logins: number[] = [];
  for (let i = 0; i < 6; i++) logins.push((await login(`${randomUUID()}@example.test`, 'whatever password', inSlash64('10:1'))).statusCode);
  t.same(logins, [401, 401, 401, 401, 401, 429], 'login: the sixth address of the /64 is refused');
  t.equal((await login(`${randomUUID()}@example.test`, 'whatever password', inSlash64('10:2'))).statusCode, 401, 'another /64 has its own budget');
  const signups: number[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await signUpRequest(app, { remoteAddress: inSlash64('20:1') });
    signups.push(res.statusCode);
  }
  t.same(signups, [201, 201, 201, 429], 'signup: the fourth address of the /64 is refused');
});

t.test('forged, expired and misdirected access tokens are refused', async (t) => {
  const { accessToken } = await signUp(app);
  const valid = app.jwt.decode<Record<string, unknown>>(accessToken)!;
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, string]> = [
    ['alg none', forge({ alg: 'none', typ: 'JWT' }, valid, STRONG_SECRET, 'none')],
    ['HS512 with the right secret', forge({ alg: 'HS512', typ: 'JWT' }, valid, STRONG_SECRET, 'sha512')],
    ['wrong secret', forge({ alg: 'HS256', typ: 'JWT' }, valid, 'some-other-secret-some-other-secret')],
    ['wrong audience', forge({ alg: 'HS256', typ: 'JWT' }, { ...valid, aud: 'someone-else' })],
    ['wrong issuer', forge({ alg: 'HS256', typ: 'JWT' }, { ...valid, iss: 'evil' })],
    ['expired', forge({ alg: 'HS256', typ: 'JWT' }, { ...valid, iat: now - 3600, exp: now - 1800 })],
    ['missing sid', forge({ alg: 'HS256', typ: 'JWT' }, { ...valid, sid: undefined })],
    ['not an access token', forge({ alg: 'HS256', typ: 'JWT' }, { ...valid, typ: 'refresh' })],
    ['another shop in the claim', forge({ alg: 'HS256', typ: 'JWT' }, { ...valid, shop: randomUUID() })],
  ];
  for (const [name, token] of cases) {
    const res = await me(token);
    t.equal(res.statusCode, 401, name);
    t.equal(res.json().error.code, 'UNAUTHENTICATED', name);
  }
  // The forging helper is right: the same claims, properly signed, pass.
  t.equal((await me(forge({ alg: 'HS256', typ: 'JWT' }, valid))).statusCode, 200, 'control: a correctly signed token works');
});

t.test('a refresh token is never accepted as an access token', async (t) => {
  const { refreshToken } = await signUp(app);
  t.equal((await me(refreshToken)).statusCode, 401);
});

t.test('refresh rotates; presenting a rotated token revokes the whole family', async (t) => {
  const { refreshToken: first, userId, accessToken } = await signUp(app);
  const rotated = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: first } });
  t.equal(rotated.statusCode, 200);
  const second = refreshCookieOf(rotated)!;
  t.not(second, first);
  t.equal((await me(rotated.json().accessToken)).statusCode, 200);
  // An attacker replays the stolen first token (after the grace second for concurrent duplicates).
  await db.admin.query(`update app.refresh_tokens set rotated_at = rotated_at - interval '5 seconds' where rotated_at is not null`);
  const replay = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: first } });
  t.equal(replay.statusCode, 401);
  const legit = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: second } });
  t.equal(legit.statusCode, 401, 'the newer token of the family is dead too');
  t.equal((await me(accessToken)).statusCode, 401, "and so are the family's access tokens");
  const audit = await db.admin.query(`select count(*)::int as n from app.audit_events where user_id = $1 and action = 'auth.refresh_reuse'`, [userId]);
  t.equal(audit.rows[0].n, 1);
});

t.test('two parallel refreshes with one token: exactly one succeeds', async (t) => {
  const { refreshToken: token } = await signUp(app);
  const results = await Promise.all(
    [1, 2].map(() => app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: token } })),
  );
  t.same(results.map((r) => r.statusCode).sort(), [200, 401]);
});

t.test('the database holds no refresh token in clear', async (t) => {
  const { refreshToken: token, userId } = await signUp(app);
  const { rows } = await db.admin.query(`select token_hash from app.refresh_tokens where user_id = $1`, [userId]);
  t.equal(rows.length, 1);
  t.same(rows[0].token_hash, createHash('sha256').update(token).digest());
  const dump = await db.admin.query(`select row_to_json(r)::text as j from app.refresh_tokens r union all select row_to_json(s)::text from app.sessions s`);
  t.notOk(dump.rows.some((r) => r.j.includes(token)), 'the raw token appears nowhere');
  const users = await db.admin.query(`select password_hash from app.users where id = $1`, [userId]);
  t.match(users.rows[0].password_hash, /^\$argon2id\$/);
});

t.test("a revoked session's access token stops working at once", async (t) => {
  const { accessToken } = await signUp(app);
  t.equal((await me(accessToken)).statusCode, 200);
  const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(accessToken) });
  t.equal(out.statusCode, 204);
  t.equal((await me(accessToken)).statusCode, 401);
});

t.test('logout-all revokes every session of the user', async (t) => {
  const { email } = await signUp(app);
  const a = (await login(email, PASSWORD)).json().accessToken;
  const b = (await login(email, PASSWORD)).json().accessToken;
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout-all', headers: bearer(a) })).statusCode, 204);
  t.equal((await me(a)).statusCode, 401);
  t.equal((await me(b)).statusCode, 401);
});

t.test('at most 10 live sessions per user: the oldest is revoked', async (t) => {
  const { email, userId, accessToken } = await signUp(app);
  for (let i = 0; i < 10; i++) t.equal((await login(email, PASSWORD)).statusCode, 200);
  t.equal((await me(accessToken)).statusCode, 401, 'the signup session was the oldest');
  const { rows } = await db.admin.query(`select count(*)::int as n from app.sessions where user_id = $1 and revoked_at is null`, [userId]);
  t.equal(rows[0].n, 10);
});

t.test("sessions: list your own, revoke your own, another user's session id is 404", async (t) => {
  const a = await signUp(app);
  const b = await signUp(app);
  const second = (await login(a.email, PASSWORD)).json().accessToken as string;
  const listed = await app.inject({ url: '/api/v1/auth/sessions', headers: a.headers });
  t.equal(listed.statusCode, 200);
  const items = listed.json().items as Array<{ id: string; current: boolean }>;
  t.equal(items.length, 2);
  t.equal(items.filter((s) => s.current).length, 1);
  const bSessions = (await app.inject({ url: '/api/v1/auth/sessions', headers: b.headers })).json().items;
  const stolen = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${bSessions[0].id}`, headers: a.headers });
  t.equal(stolen.statusCode, 404, "another user's session is not found");
  t.equal((await me(b.accessToken)).statusCode, 200, 'and still works');
  const other = items.find((s) => !s.current)!;
  const revoked = await app.inject({ method: 'DELETE', url: `/api/v1/auth/sessions/${other.id}`, headers: a.headers });
  t.equal(revoked.statusCode, 204);
  t.equal((await me(second)).statusCode, 401, 'the revoked session is dead at once');
  t.equal((await me(a.accessToken)).statusCode, 200);
});

t.test('password change needs the current password and signs out every other session', async (t) => {
  const { email, accessToken } = await signUp(app);
  const elsewhere = (await login(email, PASSWORD)).json().accessToken as string;
  const auth = bearer(accessToken);
  const wrong = await app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: auth, payload: { currentPassword: 'not my password at all', newPassword: 'a brand new passphrase' } });
  t.equal(wrong.statusCode, 403);
  t.equal((await me(elsewhere)).statusCode, 200, 'a failed attempt changes nothing');
  const weak = await app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: auth, payload: { currentPassword: PASSWORD, newPassword: 'short' } });
  t.equal(weak.statusCode, 400);
  const ok = await app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: auth, payload: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' } });
  t.equal(ok.statusCode, 204);
  t.equal((await me(elsewhere)).statusCode, 401, 'the other session is revoked');
  t.equal((await me(accessToken)).statusCode, 200, 'this one stays');
  t.equal((await login(email, PASSWORD)).statusCode, 401, 'the old password no longer works');
  t.equal((await login(email, 'a brand new passphrase')).statusCode, 200);
});

t.test('cookie authentication: state changes need the session-bound CSRF token; bearer requests do not', async (t) => {
  const { response: res } = await signUp(app);
  const accessCookie = (res.cookies as Array<{ name: string; value: string; httpOnly?: boolean; sameSite?: string }>).find((c) => c.name === 'pigeon_access')!;
  t.ok(accessCookie.httpOnly);
  t.equal(accessCookie.sameSite, 'Strict');
  const cookies = { pigeon_access: accessCookie.value };
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).statusCode, 200, 'reads work with the cookie alone');
  const csrfRes = await app.inject({ url: '/api/v1/auth/csrf', cookies });
  t.equal(csrfRes.statusCode, 200);
  const csrfToken = csrfRes.json().csrfToken as string;
  const secret = cookieOf(csrfRes, 'pigeon_csrf')!;
  const withSecret = { ...cookies, pigeon_csrf: secret };
  const noToken = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: withSecret });
  t.equal(noToken.statusCode, 403, 'no token');
  t.equal(noToken.json().error.code, 'CSRF_INVALID');
  const forged = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: withSecret, headers: { 'x-csrf-token': `${csrfToken.slice(0, -2)}xx` } });
  t.equal(forged.statusCode, 403, 'a wrong token');
  // logout takes no body, so a token there is refused by the schema before CSRF is checked.
  const inBody = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: withSecret, payload: { _csrf: csrfToken } });
  t.equal(inBody.statusCode, 400, 'a token in the body: the body is refused');
  const inQuery = await app.inject({ method: 'POST', url: `/api/v1/auth/logout?_csrf=${encodeURIComponent(csrfToken)}`, cookies: withSecret });
  t.equal(inQuery.statusCode, 403, 'the token is read only from the header');
  // A token minted for another session (another user signing in on the same browser) fails.
  const other = await signUp(app);
  const otherCookie = cookieOf(other.response, 'pigeon_access')!;
  const crossSession = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: { pigeon_access: otherCookie, pigeon_csrf: secret }, headers: { 'x-csrf-token': csrfToken } });
  t.equal(crossSession.statusCode, 403, "another session's token");
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).statusCode, 200, 'nothing was logged out so far');
  const ok = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: withSecret, headers: { 'x-csrf-token': csrfToken } });
  t.equal(ok.statusCode, 204);
  t.equal((await app.inject({ url: '/api/v1/me', cookies })).statusCode, 401);
  // Bearer: no CSRF token needed.
  const viaBearer = await signUp(app);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: viaBearer.headers })).statusCode, 204);
});

t.test('a hash made with older argon2 parameters is upgraded at the next sign-in', async (t) => {
  const { email, userId } = await signUp(app);
  const weaker = await hashPassword(PASSWORD, { memoryCost: 8192, timeCost: 3, parallelism: 1 });
  await db.admin.query('update app.users set password_hash = $1 where id = $2', [weaker, userId]);
  t.equal((await login(email, PASSWORD)).statusCode, 200);
  const { rows } = await db.admin.query('select password_hash from app.users where id = $1', [userId]);
  t.match(rows[0].password_hash, /^\$argon2id\$v=19\$m=8192,t=1,p=1\$/, 'now with the configured parameters');
});

t.test('a refresh from another address is audited, and refused when the operator asks for it', async (t) => {
  const { refreshToken: first, userId, accessToken } = await signUp(app);
  const moved = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', remoteAddress: '203.0.113.50', cookies: { pigeon_refresh: first } });
  t.equal(moved.statusCode, 200, 'allowed by default: mobile networks change addresses');
  const audit = await db.admin.query(`select result from app.audit_events where user_id = $1 and action = 'auth.refresh_fingerprint_changed'`, [userId]);
  t.same(audit.rows, [{ result: 'success' }]);

  const strict = await buildTestApp(t, db.apiDb, { ...env, REFRESH_BLOCK_ON_FINGERPRINT_CHANGE: 'true' });
  const signed = await signUp(strict.app, { shopName: 'Strict' });
  const token = signed.refreshToken;
  const refused = await strict.app.inject({ method: 'POST', url: '/api/v1/auth/refresh', remoteAddress: '203.0.113.51', cookies: { pigeon_refresh: token } });
  t.equal(refused.statusCode, 401, 'refused from a new address');
  t.equal((await whoAmI(strict.app, signed.accessToken)).statusCode, 401, 'and the session is over');
});

t.test('signup is limited to 3 per hour per address', async (t) => {
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) {
    const res = await signUpRequest(app, { remoteAddress: '203.0.113.120' });
    codes.push(res.statusCode);
  }
  t.same(codes, [201, 201, 201, 429]);
});

t.test('an idle or expired session can no longer refresh', async (t) => {
  for (const [name, change] of [
    ['idle', `last_used_at = now() - interval '4 days'`],
    ['past its absolute lifetime', `expires_at = now() - interval '1 second'`],
  ] as const) {
    const { refreshToken, userId } = await signUp(app);
    await db.admin.query(`update app.sessions set ${change} where user_id = $1`, [userId]);
    const refreshed = await app.inject({ method: 'POST', url: '/api/v1/auth/refresh', cookies: { pigeon_refresh: refreshToken } });
    t.equal(refreshed.statusCode, 401, name);
  }
});

// Last, so that it reads the logs of every test above.
t.test('logs hold no password, token or e-mail address', async (t) => {
  const raw = rawLogs();
  t.ok(raw.length > 0);
  t.notMatch(raw, /correct horse/);
  t.notMatch(raw, /brand new passphrase/);
  t.notMatch(raw, /@example\.test/);
  t.notMatch(raw, /eyJ[A-Za-z0-9_-]{10,}/);
  t.notMatch(raw, /pigeon_refresh=/);
});
