// Third-party tokens at rest: ciphertext only, bound to their shop, tamper-evident, and
// re-encrypted under a new key by the rotation command.
import t from 'tap';
import { withShop } from '../src/db/with-shop.js';
import { createKeyRing, generateKeySpec, parseKeyRing } from '../src/lib/key-ring.js';
import { readShopifyAccessToken, rotateShopTokens, storeShopifyAccessToken } from '../src/modules/shopify/access-token.js';
import { createTestDatabase } from './helpers/database.js';
import { createShop } from './helpers/fixtures.js';

const db = await createTestDatabase(t);
const shopA = await createShop(db.admin, 'A');
const shopB = await createShop(db.admin, 'B');
const k1 = generateKeySpec('k1');
const k2 = generateKeySpec('k2');
const oldRing = parseKeyRing(k1);
const newRing = parseKeyRing(`${k1},${k2}`);
const TOKEN = 'shpat_0123456789abcdef0123456789abcdef';

t.test('the database holds ciphertext only, and the API reads the token back', async (t) => {
  await withShop(db.apiDb, shopA, (tx) => storeShopifyAccessToken(tx, oldRing, shopA, TOKEN));
  const { rows } = await db.admin.query('select shopify_access_token as v from app.shops where id = $1', [shopA]);
  t.match(rows[0].v, /^v1\.k1\./);
  t.notOk(rows[0].v.includes(TOKEN));
  t.equal(await withShop(db.apiDb, shopA, (tx) => readShopifyAccessToken(tx, oldRing, shopA)), TOKEN);
});

t.test("a ciphertext copied into another shop's row, or altered, fails loudly", async (t) => {
  await db.admin.query('update app.shops set shopify_access_token = (select shopify_access_token from app.shops where id = $1) where id = $2', [shopA, shopB]);
  await t.rejects(withShop(db.apiDb, shopB, (tx) => readShopifyAccessToken(tx, oldRing, shopB)), { name: 'KeyRingError', code: 'TAMPERED' });
  const { rows } = await db.admin.query('select shopify_access_token as v from app.shops where id = $1', [shopA]);
  const parts = (rows[0].v as string).split('.');
  const flipped = [...parts.slice(0, 3), `${parts[3]![0] === 'A' ? 'B' : 'A'}${parts[3]!.slice(1)}`, parts[4]].join('.');
  await db.admin.query('update app.shops set shopify_access_token = $1 where id = $2', [flipped, shopB]);
  await t.rejects(withShop(db.apiDb, shopB, (tx) => readShopifyAccessToken(tx, oldRing, shopB)), { name: 'KeyRingError' });
  await db.admin.query('update app.shops set shopify_access_token = null where id = $1', [shopB]);
});

t.test('rotation re-encrypts under the newest key, once', async (t) => {
  const first = await rotateShopTokens(db.workerDb, newRing);
  t.same(first, { shops: 2, rotated: 1 });
  const { rows } = await db.admin.query('select shopify_access_token as v from app.shops where id = $1', [shopA]);
  t.match(rows[0].v, /^v1\.k2\./);
  const onlyNew = createKeyRing([{ kid: 'k2', key: Buffer.from(k2.split(':')[1]!, 'base64') }]);
  t.equal(await withShop(db.apiDb, shopA, (tx) => readShopifyAccessToken(tx, onlyNew, shopA)), TOKEN, 'the old key is no longer needed');
  t.same(await rotateShopTokens(db.workerDb, newRing), { shops: 2, rotated: 0 }, 'running again changes nothing');
});
