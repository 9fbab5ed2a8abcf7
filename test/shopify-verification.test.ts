// The checks that stand between an attacker and "Shopify says this is shop X": shop-domain
// normalisation, session-token verification, OAuth redirect HMAC and webhook HMAC. Pure
// functions, no database; each refusal is written as the attack it stops.
import t, { type Test } from 'tap';
import { createHmac } from 'node:crypto';
import { parse as parseQueryString } from 'node:querystring';
import { normalizeShopDomain, shopDomainFromAdminUrl, shopDomainFromUrl } from '../src/lib/shopify-domain.js';
import { ShopifyTokenError, verifyShopifySessionToken, type ShopifyTokenErrorCode } from '../src/lib/shopify-session-token.js';
import { verifyOAuthCallbackHmac, verifyWebhookHmac } from '../src/lib/shopify-hmac.js';
import { oauthQueryString, shopifySessionClaims, signOAuthQuery, signSessionToken, signWebhook } from './helpers/shopify-signing.js';

const apiKey = 'pigeon-client-id-0123456789abcdef';
const apiSecret = 'shpss_0123456789abcdef0123456789abcdef';
const otherSecret = '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';
const shop = 'pigeon-test.myshopify.com';
const now = Date.UTC(2025, 0, 15, 12, 0, 0);
const opts = { apiKey, apiSecret, now };

const claims = (overrides: Record<string, unknown> = {}) => ({
  ...shopifySessionClaims({ shop, apiKey, userId: '9001', sessionId: 'sess-abc', nowMs: now }),
  ...overrides,
});

function refusedWith(t: Test, token: string, code: ShopifyTokenErrorCode, options: Parameters<typeof verifyShopifySessionToken>[1] = opts) {
  try {
    verifyShopifySessionToken(token, options);
    t.fail(`accepted a token that should fail with ${code}`);
  } catch (error) {
    t.ok(error instanceof ShopifyTokenError, 'throws ShopifyTokenError');
    t.equal((error as ShopifyTokenError).code, code);
    if (typeof token === 'string' && token.length > 0) t.notMatch((error as Error).message, token, 'the message does not echo the token');
  }
}

t.test('shop domain normalisation', async (t) => {
  const accepted: Array<[unknown, string]> = [
    ['foo.myshopify.com', 'foo.myshopify.com'],
    ['  Foo.MyShopify.COM \n', 'foo.myshopify.com'],
    ['a.myshopify.com', 'a.myshopify.com'],
    ['0shop-1-.myshopify.com', '0shop-1-.myshopify.com'],
    [`${'a'.repeat(63)}.myshopify.com`, `${'a'.repeat(63)}.myshopify.com`],
  ];
  for (const [input, expected] of accepted) t.equal(normalizeShopDomain(input), expected, `accepts ${JSON.stringify(input)}`);

  const refused: unknown[] = [
    '',
    '   ',
    'myshopify.com',
    '.myshopify.com',
    '-foo.myshopify.com',
    'foo.myshopify.com:443',
    'foo.myshopify.com:8080',
    'foo.myshopify.com/',
    'foo.myshopify.com/admin',
    'user@foo.myshopify.com',
    'user:pw@foo.myshopify.com',
    'foo.myshopify.com@evil.com',
    'evil.com',
    'evil.com/.myshopify.com',
    'evil.com?.myshopify.com',
    'evil.com#.myshopify.com',
    'evil.com\\.myshopify.com',
    'x.myshopify.com.evil.com',
    'foo.myshopify.com.',
    'foo.bar.myshopify.com',
    'foo..myshopify.com',
    'foomyshopify.com',
    'foo_bar.myshopify.com',
    'foo.myshopify.io',
    'foo.shopify.com',
    'https://foo.myshopify.com',
    '//foo.myshopify.com',
    'foo%2emyshopify.com',
    'foo.myshopify.com%00',
    'foo.myshopify.com\u0000',
    'foo\n.myshopify.com',
    'foo .myshopify.com',
    'fоо.myshopify.com', // Cyrillic о
    '\u212Aelvin.myshopify.com', // KELVIN SIGN lowercases to ASCII 'k'
    'foo.myshopify.com\u200b',
    `${'a'.repeat(64)}.myshopify.com`, // label longer than DNS allows
    `${'a'.repeat(250)}.myshopify.com`, // longer than 255
    null,
    undefined,
    42,
    ['foo.myshopify.com'],
    { toString: () => 'foo.myshopify.com' },
  ];
  for (const input of refused) t.equal(normalizeShopDomain(input), null, `refuses ${JSON.stringify(String(input))}`);
});

t.test('shop domain from a session token URL (dest) and admin URL (iss)', async (t) => {
  t.equal(shopDomainFromUrl('https://foo.myshopify.com'), 'foo.myshopify.com');
  t.equal(shopDomainFromUrl('https://foo.myshopify.com/'), 'foo.myshopify.com');
  t.equal(shopDomainFromUrl('https://Foo.MyShopify.com'), 'foo.myshopify.com');
  const refusedUrls = [
    'http://foo.myshopify.com',
    'HTTPS://foo.myshopify.com',
    'https://foo.myshopify.com:443',
    'https://foo.myshopify.com:443/',
    'https://foo.myshopify.com/admin',
    'https://foo.myshopify.com//',
    'https://user@foo.myshopify.com',
    'https://foo.myshopify.com@evil.com',
    'https://foo.myshopify.com?x=1',
    'https://foo.myshopify.com#x',
    'https://evil.com',
    'https://evil.com/.myshopify.com',
    'https://x.myshopify.com.evil.com',
    'https://foo.myshopify.com\\',
    ' https://foo.myshopify.com',
    'https://foo.myshopify.com ',
    'https:// foo.myshopify.com',
    '//foo.myshopify.com',
    'foo.myshopify.com',
    'https://',
  ];
  for (const input of refusedUrls) t.equal(shopDomainFromUrl(input), null, `dest refuses ${JSON.stringify(input)}`);
  t.equal(shopDomainFromUrl(undefined), null);

  t.equal(shopDomainFromAdminUrl('https://foo.myshopify.com/admin'), 'foo.myshopify.com');
  for (const input of [
    'https://foo.myshopify.com',
    'https://foo.myshopify.com/admin/',
    'https://foo.myshopify.com//admin',
    'https://foo.myshopify.com/admin?x',
    'http://foo.myshopify.com/admin',
    'https://evil.com/admin',
    'https://evil.com/.myshopify.com/admin',
    'https://foo.myshopify.com:443/admin',
  ]) {
    t.equal(shopDomainFromAdminUrl(input), null, `iss refuses ${JSON.stringify(input)}`);
  }
});

t.test('a genuine session token is accepted and names its shop, user and session', async (t) => {
  const payload = claims();
  const verified = verifyShopifySessionToken(signSessionToken(payload, apiSecret), opts);
  t.equal(verified.shop, shop);
  t.equal(verified.userId, '9001');
  t.equal(verified.sessionId, 'sess-abc');
  t.same(verified.payload, payload);

  const bare = claims();
  delete (bare as Record<string, unknown>).sub;
  delete (bare as Record<string, unknown>).sid;
  const minimal = verifyShopifySessionToken(signSessionToken(bare, apiSecret), opts);
  t.equal(minimal.shop, shop);
  t.notOk('userId' in minimal);
  t.notOk('sessionId' in minimal);

  const upper = verifyShopifySessionToken(
    signSessionToken(claims({ iss: 'https://Pigeon-Test.myshopify.com/admin', dest: 'https://pigeon-test.myshopify.com/' }), apiSecret),
    opts,
  );
  t.equal(upper.shop, shop, 'iss and dest are compared after normalisation');
  t.ok(verifyShopifySessionToken(signSessionToken(claims(), apiSecret, { alg: 'HS256' }), opts), 'typ is optional');
});

t.test('clock skew within the leeway is tolerated, beyond it is not', async (t) => {
  const nowS = now / 1000;
  t.ok(verifyShopifySessionToken(signSessionToken(claims({ nbf: nowS + 4 }), apiSecret), opts), 'nbf 4 s ahead');
  t.ok(verifyShopifySessionToken(signSessionToken(claims({ exp: nowS - 4 }), apiSecret), opts), 'exp 4 s ago');
  refusedWith(t, signSessionToken(claims({ exp: nowS - 5 }), apiSecret), 'EXPIRED');
  refusedWith(t, signSessionToken(claims({ nbf: nowS + 6 }), apiSecret), 'NOT_YET_VALID');
  refusedWith(t, signSessionToken(claims({ exp: nowS - 1 }), apiSecret), 'EXPIRED', { ...opts, leewaySeconds: 0 });
  t.throws(() => verifyShopifySessionToken('x', { ...opts, leewaySeconds: -1 }), RangeError);
});

t.test('session token: wrong or missing signature is refused', async (t) => {
  refusedWith(t, signSessionToken(claims(), otherSecret), 'BAD_SIGNATURE');

  const good = signSessionToken(claims(), apiSecret);
  const [h, , s] = good.split('.') as [string, string, string];
  const forgedPayload = Buffer.from(JSON.stringify(claims({ iss: 'https://victim.myshopify.com/admin', dest: 'https://victim.myshopify.com' }))).toString('base64url');
  refusedWith(t, `${h}.${forgedPayload}.${s}`, 'BAD_SIGNATURE');
  refusedWith(t, `${h}.${good.split('.')[1]}.`, 'BAD_SIGNATURE');
  refusedWith(t, good.slice(0, -1), 'BAD_SIGNATURE');
  refusedWith(t, `${good}AA`, 'BAD_SIGNATURE');

  // The last of 43 base64url characters carries 2 unused bits: another character can decode
  // to the same bytes. Only the canonical spelling is accepted.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(good.at(-1)!);
  const sibling = alphabet[last ^ 1]!;
  const reencoded = `${good.slice(0, -1)}${sibling}`;
  t.same(Buffer.from(reencoded.split('.')[2]!, 'base64url'), Buffer.from(s, 'base64url'), 'same signature bytes');
  refusedWith(t, reencoded, 'BAD_SIGNATURE');
});

t.test('session token: the signature is checked before any claim', async (t) => {
  const everythingWrong = claims({ aud: 'someone-else', exp: 1, nbf: 1, iss: 'https://evil.com/admin', dest: 'https://evil.com' });
  refusedWith(t, signSessionToken(everythingWrong, otherSecret), 'BAD_SIGNATURE');
  const notJson = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('not json').toString('base64url')}`;
  refusedWith(t, `${notJson}.${createHmac('sha256', otherSecret).update(notJson).digest('base64url')}`, 'BAD_SIGNATURE');
  refusedWith(t, `${notJson}.${createHmac('sha256', apiSecret).update(notJson).digest('base64url')}`, 'MALFORMED');
});

t.test('session token: any algorithm but HS256 is refused', async (t) => {
  for (const alg of ['none', 'None', 'NONE']) {
    refusedWith(t, signSessionToken(claims(), apiSecret, { alg, typ: 'JWT' }), 'BAD_ALG');
  }
  // alg:none carrying a perfectly valid HS256 signature is still refused: the header decides nothing.
  const noneHeader = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims())).toString('base64url');
  refusedWith(t, `${noneHeader}.${body}.${createHmac('sha256', apiSecret).update(`${noneHeader}.${body}`).digest('base64url')}`, 'BAD_ALG');

  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS512', typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS384', typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'RS256', typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'ES256', typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'hs256', typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: ['HS256'], typ: 'JWT' }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS256', typ: 'JWT', crit: ['exp'] }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS256', typ: 'JWT', crit: [] }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS256', b64: false, crit: ['b64'] }), 'BAD_ALG');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS256', jku: 'https://evil.com/keys' }), 'MALFORMED');
  refusedWith(t, signSessionToken(claims(), apiSecret, { alg: 'HS256', typ: 'JWE' }), 'MALFORMED');
});

t.test('session token: audience must be this app', async (t) => {
  refusedWith(t, signSessionToken(claims({ aud: 'another-app' }), apiSecret), 'BAD_AUDIENCE');
  refusedWith(t, signSessionToken(claims({ aud: [apiKey] }), apiSecret), 'BAD_AUDIENCE');
  refusedWith(t, signSessionToken(claims({ aud: undefined }), apiSecret), 'BAD_AUDIENCE');
  refusedWith(t, signSessionToken(claims({ aud: `${apiKey} ` }), apiSecret), 'BAD_AUDIENCE');
});

t.test('session token: expired, not yet valid, or without times is refused', async (t) => {
  const nowS = now / 1000;
  refusedWith(t, signSessionToken(claims({ exp: nowS - 120, nbf: nowS - 180 }), apiSecret), 'EXPIRED');
  refusedWith(t, signSessionToken(claims({ nbf: nowS + 60, exp: nowS + 120 }), apiSecret), 'NOT_YET_VALID');
  refusedWith(t, signSessionToken(claims({ exp: undefined }), apiSecret), 'MALFORMED');
  refusedWith(t, signSessionToken(claims({ nbf: undefined }), apiSecret), 'MALFORMED');
  refusedWith(t, signSessionToken(claims({ exp: String(nowS + 60) }), apiSecret), 'MALFORMED');
  refusedWith(t, signSessionToken(claims({ iat: 'yesterday' }), apiSecret), 'MALFORMED');
  // The real clock is used when no `now` is given: a token for 2025-01-15 is long expired.
  refusedWith(t, signSessionToken(claims(), apiSecret), 'EXPIRED', { apiKey, apiSecret });
});

t.test('session token: iss and dest must name the same myshopify.com shop', async (t) => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['different shops', { iss: 'https://victim.myshopify.com/admin' }],
    ['dest for another shop', { dest: 'https://victim.myshopify.com' }],
    ['iss not myshopify', { iss: 'https://evil.com/admin', dest: 'https://evil.com' }],
    ['dest not myshopify', { dest: 'https://pigeon-test.myshopify.com.evil.com' }],
    ['iss without /admin', { iss: `https://${shop}` }],
    ['iss over http', { iss: `http://${shop}/admin` }],
    ['dest with a path', { dest: `https://${shop}/admin` }],
    ['dest with a port', { dest: `https://${shop}:8443` }],
    ['dest with userinfo', { dest: `https://evil.com@${shop}` }],
    ['iss missing', { iss: undefined }],
    ['dest missing', { dest: undefined }],
    ['dest not a string', { dest: ['https://pigeon-test.myshopify.com'] }],
  ];
  for (const [name, overrides] of cases) {
    t.test(name, async (t) => refusedWith(t, signSessionToken(claims(overrides), apiSecret), 'BAD_ISSUER'));
  }
});

t.test('session token: malformed input is refused without being parsed as a token', async (t) => {
  const good = signSessionToken(claims(), apiSecret);
  const [h, p, s] = good.split('.') as [string, string, string];
  const seg = (value: string) => Buffer.from(value).toString('base64url');
  const signed = (header: string, payload: string) => `${header}.${payload}.${createHmac('sha256', apiSecret).update(`${header}.${payload}`).digest('base64url')}`;
  const malformed: Array<[string, string]> = [
    ['empty', ''],
    ['one segment', 'abc'],
    ['two segments', `${h}.${p}`],
    ['four segments', `${good}.${s}`],
    ['padding', `${h}=.${p}.${s}`],
    ['standard base64 alphabet', `${h}.${p}+.${s}`],
    ['whitespace', ` ${good}`],
    ['empty header', `.${p}.${s}`],
    ['header not JSON', `${seg('alg=HS256')}.${p}.${s}`],
    ['header is an array', `${seg('["HS256"]')}.${p}.${s}`],
    ['header is null', `${seg('null')}.${p}.${s}`],
    ['header not UTF-8', `${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${p}.${s}`],
    ['too long', `${h}.${'A'.repeat(9000)}.${s}`],
    ['signed payload that is an array', signed(h, seg(JSON.stringify([claims()])))],
    ['signed payload that is a string', signed(h, seg('"hello"'))],
    ['signed empty payload', signed(h, '')],
    ['sub not a string', signSessionToken(claims({ sub: 9001 }), apiSecret)],
    ['empty sid', signSessionToken(claims({ sid: '' }), apiSecret)],
  ];
  for (const [name, token] of malformed) {
    t.test(name, async (t) => refusedWith(t, token, 'MALFORMED'));
  }

  t.test('a correctly signed header spelled in non-canonical base64url', async (t) => {
    // 28 bytes leave 4 spare bits in the last of 38 characters, so a sibling character
    // decodes to the same JSON. Only the canonical spelling is read.
    const canonical = seg('{"alg":"HS256","typ":"JWT"} ');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sibling = `${canonical.slice(0, -1)}${alphabet[alphabet.indexOf(canonical.at(-1)!) ^ 1]}`;
    t.same(Buffer.from(sibling, 'base64url'), Buffer.from(canonical, 'base64url'), 'same bytes');
    t.equal(verifyShopifySessionToken(signed(canonical, p), opts).shop, shop, 'the canonical spelling verifies');
    refusedWith(t, signed(sibling, p), 'MALFORMED');
  });
  t.test('not a string', async (t) => refusedWith(t, undefined as unknown as string, 'MALFORMED'));
});

t.test('session token: a missing key or secret is a configuration error, not a refusal', async (t) => {
  const token = signSessionToken(claims(), '');
  t.throws(() => verifyShopifySessionToken(token, { apiKey, apiSecret: '', now }), TypeError);
  t.throws(() => verifyShopifySessionToken(token, { apiKey: '', apiSecret, now }), TypeError);
});

// ---------------------------------------------------------------------------------------
// OAuth redirect HMAC

const callback = { code: '0907a61c0c8d55e99db179b68161bc00', host: 'YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvcGlnZW9uLXRlc3Q', shop, state: 'c3RhdGUtMzItYnl0ZXMtb2YtcmFuZG9tbmVzcw', timestamp: '1736942400' };

t.test('OAuth HMAC: the example in Shopify docs verifies (known answer)', async (t) => {
  // Shopify's documentation example, secret "hush".
  const documented = {
    code: '0907a61c0c8d55e99db179b68161bc00',
    hmac: '4712bf92ffc2917d15a2f5a273e39f0116667419aa4b6ac0b3baaf26fa3c4d20',
    shop: 'some-shop.myshopify.com',
    timestamp: '1337178173',
  };
  t.ok(verifyOAuthCallbackHmac(documented, 'hush'));
  t.equal(signOAuthQuery({ code: documented.code, shop: documented.shop, timestamp: documented.timestamp }, 'hush').hmac, documented.hmac, 'the test signer agrees with Shopify');
  const withState = { ...documented, state: '0.6784241404160823', hmac: '700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf' };
  t.ok(verifyOAuthCallbackHmac(withState, 'hush'));
  t.notOk(verifyOAuthCallbackHmac(documented, apiSecret), 'wrong secret');
});

t.test('OAuth HMAC: a signed callback is accepted in any parameter order', async (t) => {
  const signed = signOAuthQuery(callback, apiSecret);
  t.ok(verifyOAuthCallbackHmac(signed, apiSecret));
  const reordered = Object.fromEntries(Object.entries(signed).reverse());
  t.ok(verifyOAuthCallbackHmac(reordered, apiSecret));
  const nullPrototype = Object.assign(Object.create(null) as Record<string, string>, signed);
  t.ok(verifyOAuthCallbackHmac(nullPrototype, apiSecret), 'works on a null-prototype query object (as parsers produce)');
});

t.test('OAuth HMAC: a signed query survives the trip through a URL and a query parser', async (t) => {
  // What an HTTP test does: put the signed query on the callback URL; Fastify's parser, like
  // node:querystring, hands back decoded values, repeated keys as arrays and `ids[]` verbatim.
  const signed = signOAuthQuery({ ...callback, note: 'a&b=c%d é', 'ids[]': ['1', '2'] }, apiSecret);
  const parsed = parseQueryString(oauthQueryString(signed)) as Record<string, string | string[]>;
  t.same(parsed['ids[]'], ['1', '2']);
  t.equal(parsed.note, 'a&b=c%d é');
  t.ok(verifyOAuthCallbackHmac(parsed, apiSecret));
});

t.test('OAuth HMAC: tampering is detected', async (t) => {
  const signed = signOAuthQuery(callback, apiSecret);
  t.notOk(verifyOAuthCallbackHmac({ ...signed, shop: 'victim.myshopify.com' }, apiSecret), 'changed value');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, state: `${callback.state}x` }, apiSecret), 'changed state');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, extra: '1' }, apiSecret), 'extra parameter');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, host: '' }, apiSecret), 'emptied parameter');
  const { state: _dropped, ...withoutState } = signed;
  t.notOk(verifyOAuthCallbackHmac(withoutState, apiSecret), 'removed parameter');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, shop: [shop, 'victim.myshopify.com'] }, apiSecret), 'repeated shop parameter');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, shop: [shop] }, apiSecret), 'plain key given as an array');
  t.notOk(verifyOAuthCallbackHmac(signOAuthQuery(callback, otherSecret), apiSecret), 'signed with another secret');
});

t.test('OAuth HMAC: a missing or malformed hmac is refused', async (t) => {
  const signed = signOAuthQuery(callback, apiSecret);
  const { hmac, ...unsigned } = signed;
  t.notOk(verifyOAuthCallbackHmac(unsigned, apiSecret), 'missing');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: '' }, apiSecret), 'empty');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: [hmac] }, apiSecret), 'as an array');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: [hmac, hmac] }, apiSecret), 'repeated');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: hmac.slice(0, 62) }, apiSecret), 'truncated');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: `${hmac}00` }, apiSecret), 'too long');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: `${hmac.slice(0, 63)}g` }, apiSecret), 'not hex');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: ` ${hmac.slice(1)}` }, apiSecret), 'whitespace');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: Buffer.from(hmac, 'hex').toString('base64') }, apiSecret), 'base64 instead of hex');
  t.notOk(verifyOAuthCallbackHmac({ ...unsigned, hmac: 'hmac' }, apiSecret));
});

t.test('OAuth HMAC: only the lowercase hex Shopify sends is accepted', async (t) => {
  // Decision: Shopify emits lowercase hex and its own libraries compare it as a string, so
  // uppercase or mixed-case spellings of the right digest are refused (one spelling per URL).
  let signed = signOAuthQuery(callback, apiSecret);
  for (let i = 0; !/[a-f]/.test(signed.hmac); i++) signed = signOAuthQuery({ ...callback, timestamp: String(i) }, apiSecret);
  t.ok(verifyOAuthCallbackHmac(signed, apiSecret));
  t.notOk(verifyOAuthCallbackHmac({ ...signed, hmac: signed.hmac.toUpperCase() }, apiSecret), 'uppercase');
  const mixed = signed.hmac.replace(/[a-f]/, (c) => c.toUpperCase());
  t.notOk(verifyOAuthCallbackHmac({ ...signed, hmac: mixed }, apiSecret), 'mixed case');
});

t.test('OAuth HMAC: Shopify escaping of &, % and = (literal messages)', async (t) => {
  const hex = (message: string) => createHmac('sha256', apiSecret).update(message).digest('hex');
  // In keys: % → %25, & → %26, = → %3D. In values: % → %25, & → %26 (= stays).
  t.ok(verifyOAuthCallbackHmac({ 'a&b': 'c=d', e: '100%', 'f=g': 'h&i', hmac: hex('a%26b=c=d&e=100%25&f%3Dg=h%26i') }, apiSecret));
  t.ok(verifyOAuthCallbackHmac({ host: 'YWRtaW4=', shop, hmac: hex(`host=YWRtaW4=&shop=${shop}`) }, apiSecret), '= in a value is not escaped');
  t.ok(verifyOAuthCallbackHmac({ v: 'a%26b', hmac: hex('v=a%2526b') }, apiSecret), 'an already-encoded value is escaped again');
  t.ok(verifyOAuthCallbackHmac({ v: 'café ü', hmac: hex('v=café ü') }, apiSecret), 'other characters are signed as decoded UTF-8');

  // Why the escaping exists: without it these two queries would produce the same message.
  const signed = signOAuthQuery({ a: '1', b: '2' }, apiSecret);
  t.ok(verifyOAuthCallbackHmac(signed, apiSecret));
  t.notOk(verifyOAuthCallbackHmac({ a: '1&b=2', hmac: signed.hmac }, apiSecret), 'a=1&b=2 smuggled into one value');
  t.notOk(verifyOAuthCallbackHmac({ 'a=1&b': '2', hmac: signed.hmac }, apiSecret), 'a=1&b smuggled into one key');

  // Order: the `key=value` strings are sorted bytewise, as Shopify's Ruby `.sort` does; it
  // only differs from sorting keys when one key is a prefix of another followed by a
  // character below '=' ('1' < '=').
  t.ok(verifyOAuthCallbackHmac({ a: 'y', a1: 'x', hmac: hex('a1=x&a=y') }, apiSecret));
  t.notOk(verifyOAuthCallbackHmac({ a: 'y', a1: 'x', hmac: hex('a=y&a1=x') }, apiSecret));
});

t.test('OAuth HMAC: hmac and the legacy signature parameter are not part of the message', async (t) => {
  const hex = (message: string) => createHmac('sha256', apiSecret).update(message).digest('hex');
  t.ok(verifyOAuthCallbackHmac({ shop, signature: 'legacy-md5', timestamp: '1', hmac: hex(`shop=${shop}&timestamp=1`) }, apiSecret));
});

t.test('OAuth HMAC: array parameters from admin links (ids[]) are signed as Shopify does', async (t) => {
  const hex = (message: string) => createHmac('sha256', apiSecret).update(message).digest('hex');
  const base = { locale: 'en', shop, timestamp: '1552479578' };
  t.ok(
    verifyOAuthCallbackHmac({ ...base, 'ids[]': ['2074861961283', '2074861830211'], hmac: hex(`ids=["2074861961283", "2074861830211"]&locale=en&shop=${shop}&timestamp=1552479578`) }, apiSecret),
    'ids=["…", "…"] under the bare key',
  );
  t.ok(verifyOAuthCallbackHmac({ ...base, 'ids[]': '2544739451040', hmac: hex(`ids=["2544739451040"]&locale=en&shop=${shop}&timestamp=1552479578`) }, apiSecret), 'a single ids[] is still an array');
  const signed = signOAuthQuery({ ...base, 'ids[]': ['1', '2', '3'] }, apiSecret);
  t.ok(verifyOAuthCallbackHmac(signed, apiSecret), 'test signer agrees');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, 'ids[]': ['1', '2'] }, apiSecret), 'an id removed');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, 'ids[]': ['1', '3', '2'] }, apiSecret), 'ids reordered');
  t.notOk(verifyOAuthCallbackHmac({ ...signed, ids: '1' }, apiSecret), 'ids and ids[] together');
  // Elements Ruby's inspect would escape are not reproduced: refused, never guessed.
  t.notOk(verifyOAuthCallbackHmac({ ...base, 'ids[]': ['a"b'], hmac: hex(`ids=["a\\"b"]&locale=en&shop=${shop}&timestamp=1552479578`) }, apiSecret));
});

// ---------------------------------------------------------------------------------------
// Webhook HMAC

t.test('webhook HMAC: the raw body signed with the app secret is accepted', async (t) => {
  const raw = Buffer.from('{"id":820982911946154508,"email":"jon@example.com","note":"a  b"}');
  t.ok(verifyWebhookHmac(raw, signWebhook(raw, apiSecret), apiSecret));
  t.ok(verifyWebhookHmac(Buffer.alloc(0), signWebhook(Buffer.alloc(0), apiSecret), apiSecret), 'empty body');
});

t.test('webhook HMAC: tampered, re-serialised, wrongly signed or missing is refused', async (t) => {
  const raw = Buffer.from('{"id": 1, "total_price": "10.00"}');
  const header = signWebhook(raw, apiSecret);
  t.notOk(verifyWebhookHmac(Buffer.from('{"id": 1, "total_price": "0.01"}'), header, apiSecret), 'body changed');
  t.notOk(verifyWebhookHmac(Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), header, apiSecret), 're-serialised JSON is not the signed body');
  t.notOk(verifyWebhookHmac(raw, signWebhook(raw, otherSecret), apiSecret), 'another secret');
  t.notOk(verifyWebhookHmac(raw, undefined, apiSecret), 'missing header');
  t.notOk(verifyWebhookHmac(raw, '', apiSecret), 'empty header');
  t.notOk(verifyWebhookHmac(raw, createHmac('sha256', apiSecret).update(raw).digest('hex'), apiSecret), 'hex instead of base64');
  t.notOk(verifyWebhookHmac(raw, header.slice(0, -1), apiSecret), 'without padding');
  t.notOk(verifyWebhookHmac(raw, ` ${header}`, apiSecret), 'whitespace');
  t.notOk(verifyWebhookHmac(raw, `${header}, ${header}`, apiSecret), 'header sent twice');
  t.notOk(verifyWebhookHmac(raw.toString() as unknown as Buffer, header, apiSecret), 'a string body is not raw bytes');
});

t.test('webhook HMAC: only the canonical base64 spelling is accepted', async (t) => {
  let i = 0;
  let raw = Buffer.from(`{"n":${i}}`);
  while (!/[+/]/.test(signWebhook(raw, apiSecret))) raw = Buffer.from(`{"n":${++i}}`);
  const header = signWebhook(raw, apiSecret);
  t.notOk(verifyWebhookHmac(raw, header.replace(/\+/g, '-').replace(/\//g, '_'), apiSecret), 'base64url alphabet');
  // 32 bytes use 256 of the 258 bits in 43 characters: the last character has 2 spare bits.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const sibling = alphabet[alphabet.indexOf(header[42]!) ^ 1]!;
  const variant = `${header.slice(0, 42)}${sibling}=`;
  t.same(Buffer.from(variant, 'base64'), Buffer.from(header, 'base64'), 'decodes to the same bytes');
  t.notOk(verifyWebhookHmac(raw, variant, apiSecret));
});

t.test('HMAC helpers refuse to run with an empty secret', async (t) => {
  t.throws(() => verifyOAuthCallbackHmac(signOAuthQuery(callback, ''), ''), TypeError);
  t.throws(() => verifyWebhookHmac(Buffer.from('x'), signWebhook('x', ''), ''), TypeError);
});
