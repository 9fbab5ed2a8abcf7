// Templates: one global catalogue nobody at run time can change, and usage that stays
// with its shop.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { withShop } from '../src/db/with-shop.js';
import { recordTemplateUse } from '../src/modules/templates/service.js';
import { compileBody } from '../src/modules/templates/render.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const account = () => signUp(app);
const a = await account();
const b = await account();

t.test('every shop reads the catalogue; every template compiles', async (t) => {
  const res = await app.inject({ url: '/api/v1/templates', headers: a.headers });
  t.equal(res.statusCode, 200);
  t.ok(res.json().items.length >= 5);
  for (const template of res.json().items) t.doesNotThrow(() => compileBody(template.body), template.name);
  const one = await app.inject({ url: `/api/v1/templates/${res.json().items[0].id}`, headers: b.headers });
  t.equal(one.statusCode, 200);
  t.equal((await app.inject({ url: `/api/v1/templates/${randomUUID()}`, headers: a.headers })).statusCode, 404);
  t.equal((await app.inject({ url: '/api/v1/templates?x=1', headers: a.headers })).statusCode, 400, 'unknown query parameter');
  t.equal((await app.inject({ url: '/api/v1/templates' })).statusCode, 401);
});

t.test('no run-time role can write the catalogue', async (t) => {
  for (const pool of [db.apiPool, db.workerPool]) {
    await t.rejects(pool.query(`insert into app.templates (id, name, category, body) values (gen_random_uuid(), 'x', 'promo', 'x')`), { code: '42501' });
    await t.rejects(pool.query(`update app.templates set body = 'pwned'`), { code: '42501' });
    await t.rejects(pool.query(`delete from app.templates`), { code: '42501' });
  }
});

t.test("usage is counted per shop and another shop's usage is invisible", async (t) => {
  const list = (await app.inject({ url: '/api/v1/templates', headers: a.headers })).json().items;
  const templateId = list[0].id;
  await withShop(db.apiDb, a.shopId, (tx) => recordTemplateUse(tx, a.shopId, templateId));
  await withShop(db.apiDb, a.shopId, (tx) => recordTemplateUse(tx, a.shopId, templateId));
  const forA = (await app.inject({ url: `/api/v1/templates/${templateId}`, headers: a.headers })).json();
  const forB = (await app.inject({ url: `/api/v1/templates/${templateId}`, headers: b.headers })).json();
  t.equal(forA.uses, 2);
  t.equal(forB.uses, 0);
  const seen = await withShop(db.apiDb, b.shopId, (tx) => tx.selectFrom('app.template_usage').selectAll().execute());
  t.same(seen, [], "B's transaction sees none of A's usage rows");
  await t.rejects(
    withShop(db.apiDb, b.shopId, (tx) => tx.insertInto('app.template_usage').values({ shop_id: a.shopId, template_id: templateId, uses: 100 }).execute()),
    /row-level security/,
    "B cannot write A's usage",
  );
});
