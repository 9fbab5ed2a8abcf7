// Encryption at rest: every way of editing a stored ciphertext must fail loudly with a
// KeyRingError, never decrypt to something else; rotation must keep old rows readable
// until they are rewritten.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  KeyRingError,
  createKeyRing,
  decrypt,
  decryptString,
  encrypt,
  generateKeySpec,
  needsRotation,
  parseKeyRing,
  reencrypt,
  tokenKeyId,
  type KeyRingErrorCode,
} from '../src/lib/key-ring.js';

const k1 = generateKeySpec('k1');
const k2 = generateKeySpec('k2');
const aad = 'shops.shopify_access_token:11111111-1111-1111-1111-111111111111';
const secret = 'shpat_0123456789abcdef0123456789abcdef';

// A pattern for t.throws: the error class by name and its code.
const isKeyRingError = (code: KeyRingErrorCode) => ({ name: 'KeyRingError', code });

function thrown(fn: () => unknown): KeyRingError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeyRingError) return err;
    throw err;
  }
  throw new Error('expected a KeyRingError, nothing was thrown');
}

/** Flips one bit in the decoded bytes of part `index` and re-encodes canonically. */
function flipBit(token: string, index: number, byte = 0): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[byte] = bytes[byte]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function withPart(token: string, index: number, value: string): string {
  const parts = token.split('.');
  parts[index] = value;
  return parts.join('.');
}

t.test('round trip: string and binary plaintext, with and without AAD', async (t) => {
  const ring = parseKeyRing(k1);
  const token = encrypt(ring, secret, aad);
  t.match(token, /^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  t.notOk(token.includes(secret));
  t.equal(decryptString(ring, token, aad), secret);
  t.same(decrypt(ring, token, aad), Buffer.from(secret));

  const binary = randomBytes(100);
  t.same(decrypt(ring, encrypt(ring, binary)), binary);
  t.equal(decryptString(ring, encrypt(ring, '')), '');
  t.equal(decryptString(ring, encrypt(ring, 'héllo ✓ 📱')), 'héllo ✓ 📱');
  t.equal(tokenKeyId(token), 'k1');
});

t.test('two encryptions of the same plaintext differ (fresh random IV each time)', async (t) => {
  const ring = parseKeyRing(k1);
  const a = encrypt(ring, secret, aad);
  const b = encrypt(ring, secret, aad);
  t.not(a, b);
  t.not(a.split('.')[2], b.split('.')[2], 'IVs differ');
  t.equal(decryptString(ring, a, aad), decryptString(ring, b, aad));
});

t.test('flipping a bit in the iv, ciphertext or tag is TAMPERED', async (t) => {
  const ring = parseKeyRing(k1);
  const token = encrypt(ring, secret, aad);
  for (const [name, index] of [['iv', 2], ['ciphertext', 3], ['tag', 4]] as const) {
    for (const byte of [0, 5, 11]) {
      const edited = flipBit(token, index, byte);
      t.not(edited, token);
      t.throws(() => decrypt(ring, edited, aad), isKeyRingError('TAMPERED'), `${name} byte ${byte}`);
    }
  }
});

t.test('changing the kid to another key in the ring is TAMPERED, to an absent key UNKNOWN_KEY', async (t) => {
  const ring = parseKeyRing(`${k1},${k2}`);
  const token = encrypt(ring, secret, aad);
  t.equal(tokenKeyId(token), 'k2');
  t.throws(() => decrypt(ring, withPart(token, 1, 'k1'), aad), isKeyRingError('TAMPERED'));
  const unknown = thrown(() => decrypt(ring, withPart(token, 1, 'k9'), aad));
  t.equal(unknown.code, 'UNKNOWN_KEY');
  t.match(unknown.message, /"k9"/);
});

t.test('a token sealed with the same key bytes under another kid is TAMPERED (the kid is authenticated)', async (t) => {
  const key = randomBytes(32);
  const sealer = createKeyRing([{ kid: 'a', key }]);
  const opener = createKeyRing([{ kid: 'a', key }, { kid: 'b', key }]);
  const token = encrypt(sealer, secret, aad);
  t.equal(decryptString(opener, token, aad), secret);
  t.throws(() => decrypt(opener, withPart(token, 1, 'b'), aad), isKeyRingError('TAMPERED'));
});

t.test('a changed or missing version is MALFORMED', async (t) => {
  const ring = parseKeyRing(k1);
  const token = encrypt(ring, secret, aad);
  for (const version of ['v2', 'v0', 'V1', '', '1']) {
    t.throws(() => decrypt(ring, withPart(token, 0, version), aad), isKeyRingError('MALFORMED'), `version ${JSON.stringify(version)}`);
  }
  t.throws(() => needsRotation(ring, withPart(token, 0, 'v2')), isKeyRingError('MALFORMED'));
});

t.test('malformed tokens are MALFORMED and nothing is returned', async (t) => {
  const ring = parseKeyRing(k1);
  const token = encrypt(ring, secret, aad);
  const [, , iv, , tag] = token.split('.') as [string, string, string, string, string];
  const cases: Record<string, string> = {
    empty: '',
    'plain text': secret,
    'too few parts': token.split('.').slice(0, 4).join('.'),
    'too many parts': `${token}.x`,
    'bad kid': withPart(token, 1, 'k 1'),
    'iv not base64url': withPart(token, 2, `${iv.slice(0, -1)}+`),
    'ciphertext not base64url': withPart(token, 3, 'abc$'),
    'padded base64': withPart(token, 4, `${tag}==`),
    'short iv': withPart(token, 2, Buffer.alloc(8).toString('base64url')),
    'truncated tag': withPart(token, 4, Buffer.from(tag, 'base64url').subarray(0, 12).toString('base64url')),
    // 16 bytes take 22 base64url chars; the last char carries 4 unused bits. Setting one
    // decodes to the same bytes, so it must be refused as a second spelling of the tag.
    'non-canonical trailing bits': withPart(token, 4, tag.slice(0, -1) + B64URL[B64URL.indexOf(tag.at(-1)!) ^ 0x01]!),
  };
  for (const [name, bad] of Object.entries(cases)) {
    const err = thrown(() => decrypt(ring, bad, aad));
    t.equal(err.code, 'MALFORMED', name);
    t.notOk(err.message.includes(secret), `${name}: no plaintext in the message`);
  }
  t.throws(() => decrypt(ring, 42 as unknown as string), isKeyRingError('MALFORMED'), 'not a string');
});

t.test('wrong AAD is TAMPERED: a ciphertext cannot be moved to another row or column', async (t) => {
  const ring = parseKeyRing(k1);
  const token = encrypt(ring, secret, aad);
  t.throws(() => decrypt(ring, token, 'shops.shopify_access_token:22222222-2222-2222-2222-222222222222'), isKeyRingError('TAMPERED'));
  t.throws(() => decrypt(ring, token, 'shops.other_column:11111111-1111-1111-1111-111111111111'), isKeyRingError('TAMPERED'));
  t.throws(() => decrypt(ring, token), isKeyRingError('TAMPERED'), 'missing AAD');
  t.throws(() => decrypt(ring, encrypt(ring, secret), aad), isKeyRingError('TAMPERED'), 'AAD where none was used');
  t.equal(decryptString(ring, encrypt(ring, secret), ''), secret, 'no AAD and empty AAD are the same');
});

t.test('rotation round trip: old key decrypts until rewritten, then can be dropped', async (t) => {
  const oldRing = parseKeyRing(k1);
  const rotating = parseKeyRing(`${k1},${k2}`);
  const newOnly = parseKeyRing(k2);

  const old = encrypt(oldRing, secret, aad);
  t.equal(tokenKeyId(old), 'k1');
  t.equal(rotating.currentKid, 'k2');
  t.equal(decryptString(rotating, old, aad), secret, 'the ring with both keys still reads k1 rows');
  t.equal(needsRotation(rotating, old), true);
  t.equal(needsRotation(oldRing, old), false);

  const rewritten = reencrypt(rotating, old, aad);
  t.equal(tokenKeyId(rewritten), 'k2');
  t.equal(needsRotation(rotating, rewritten), false);
  t.equal(decryptString(rotating, rewritten, aad), secret);
  t.equal(decryptString(newOnly, rewritten, aad), secret, 'k2 alone reads the rewritten row');
  t.throws(() => decrypt(newOnly, old, aad), isKeyRingError('UNKNOWN_KEY'), 'k2 alone cannot read the old row');
  t.throws(() => decrypt(oldRing, rewritten, aad), isKeyRingError('UNKNOWN_KEY'));

  t.throws(() => reencrypt(rotating, old, 'shops.shopify_access_token:other'), isKeyRingError('TAMPERED'), 'reencrypt checks the AAD too');
  t.throws(() => reencrypt(rotating, flipBit(old, 3), aad), isKeyRingError('TAMPERED'));
  t.not(reencrypt(rotating, rewritten, aad), rewritten, 'reencrypting a current token still uses a fresh IV');
});

t.test('key spec errors name the entry and never include key material', async (t) => {
  const short = Buffer.from('0123456789abcdef').toString('base64'); // 16 bytes
  const long = randomBytes(48).toString('base64');
  const good = k1.slice(3);
  const cases: Array<[string, string, RegExp, string[]]> = [
    ['empty', '', /key ring is empty/, []],
    ['only whitespace', '  \n ', /key ring is empty/, []],
    ['stray comma', `${k1},`, /entry #2 is empty/, [good]],
    ['wrong length (short)', `k1:${short}`, /entry #1 \(kid "k1"\): key must decode to exactly 32 bytes, got 16/, [short]],
    ['wrong length (long)', `${k1},k2:${long}`, /entry #2 \(kid "k2"\): key must decode to exactly 32 bytes, got 48/, [long, good]],
    ['not base64', `k1:${good.slice(0, 20)}!!${good.slice(22)}`, /entry #1 \(kid "k1"\): key is not valid base64/, [good.slice(0, 20)]],
    ['bad kid (space)', `bad kid:${good}`, /entry #1: key id must match/, [good]],
    ['bad kid (too long)', `${'k'.repeat(33)}:${good}`, /entry #1: key id must match/, [good]],
    ['empty kid', `:${good}`, /entry #1: key id must match/, [good]],
    ['no kid at all', good, /entry #1: expected "kid:base64key"/, [good]],
    ['duplicate kid', `${k1},k1:${randomBytes(32).toString('base64')}`, /entry #2 \(kid "k1"\): duplicate key id/, [good]],
  ];
  for (const [name, spec, message, material] of cases) {
    const err = thrown(() => parseKeyRing(spec));
    t.equal(err.code, 'INVALID_KEY_SPEC', name);
    t.match(err.message, message, name);
    for (const m of material) t.notOk(err.message.includes(m), `${name}: message does not contain key material`);
    t.notOk(err.message.includes(spec) && spec.length > 0, `${name}: message does not echo the spec`);
  }
});

t.test('key spec parsing: last entry encrypts, whitespace and base64 variants accepted', async (t) => {
  const key = randomBytes(32);
  const ring = parseKeyRing(` old:${key.toString('base64')} ,\n mid:${key.toString('base64url')},new_2-x:${key.toString('base64').replace(/=+$/, '')}\n`);
  t.same(ring.kids, ['old', 'mid', 'new_2-x']);
  t.equal(ring.currentKid, 'new_2-x');
  t.equal(ring.has('mid'), true);
  t.equal(ring.has('nope'), false);
  t.match(encrypt(ring, 'x'), /^v1\.new_2-x\./);
  t.throws(() => createKeyRing([]), isKeyRingError('INVALID_KEY_SPEC'));
  t.throws(() => createKeyRing([{ kid: 'a', key: Buffer.alloc(31) }]), isKeyRingError('INVALID_KEY_SPEC'));
});

t.test('a ring never shows its keys when logged or serialised', async (t) => {
  const key = randomBytes(32);
  const ring = createKeyRing([{ kid: 'k1', key }]);
  const shown = [JSON.stringify(ring), JSON.stringify({ config: { ring } }), inspect(ring, { showHidden: true, depth: 10 }), String(Object.values(ring))];
  for (const text of shown) {
    t.notOk(text.includes(key.toString('base64')), text);
    t.notOk(text.includes(key.toString('hex')), text);
    t.notOk(text.includes(key.toString('base64url')), text);
  }
  t.same(JSON.parse(JSON.stringify(ring)), { kids: ['k1'], currentKid: 'k1' });

  key.fill(0); // the ring keeps its own copy
  t.equal(decryptString(ring, encrypt(ring, secret)), secret);
});

t.test('generateKeySpec makes a parseable spec with 32 random bytes', async (t) => {
  const spec = generateKeySpec('2025-06_a');
  t.match(spec, /^2025-06_a:[A-Za-z0-9+/]{43}=$/);
  t.equal(Buffer.from(spec.split(':')[1]!, 'base64').length, 32);
  t.not(generateKeySpec('a'), generateKeySpec('a'));
  t.equal(parseKeyRing(spec).currentKid, '2025-06_a');
  t.throws(() => generateKeySpec('has.dot'), isKeyRingError('INVALID_KEY_SPEC'));
});
