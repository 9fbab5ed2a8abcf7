// Segments: the rule language refuses what it does not know (fields, operators, shapes,
// depth), values are never SQL, counts see only the shop's live contacts, and another
// shop's segment is 404.
import t from 'tap';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const account = () => signUp(app);
const a = await account();
const b = await account();
const contacts = [
  { phone: '+14155550101', firstName: 'Ann', tags: ['vip', 'boston'], consent: 'subscribed', attributes: { orders: 5, tier: 'gold' } },
  { phone: '+14155550102', firstName: 'Ben', tags: ['vip'], consent: 'unsubscribed', attributes: { orders: 1 } },
  { phone: '+33612345601', firstName: 'Chloé', tags: ['paris'], consent: 'subscribed', attributes: { tier: 'silver' } },
  { phone: '+14155550104', firstName: 'Dan', tags: [], consent: 'never', email: 'dan@example.test' },
];
for (const c of contacts) await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: a.headers, payload: c });
// Shop B has lookalikes that must never be counted for A.
for (const c of contacts) await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: b.headers, payload: c });

async function count(rule: unknown, who = a) {
  const created = await app.inject({ method: 'POST', url: '/api/v1/segments', headers: who.headers, payload: { name: 'test', rule } });
  if (created.statusCode !== 201) return { status: created.statusCode, body: created.json() };
  const counted = await app.inject({ url: `/api/v1/segments/${created.json().id}/count`, headers: who.headers });
  return { status: counted.statusCode, body: counted.json(), id: created.json().id as string };
}

t.test('rules select what they say', async (t) => {
  const cases: Array<[string, unknown, number, number]> = [
    ['consent', { field: 'consent', op: 'eq', value: 'subscribed' }, 2, 2],
    ['tag', { field: 'tags', op: 'has', value: 'vip' }, 2, 1],
    ['any tag', { field: 'tags', op: 'has_any', value: ['boston', 'paris'] }, 2, 2],
    ['no tag', { field: 'tags', op: 'has_none', value: ['vip'] }, 2, 1],
    ['country', { field: 'country', op: 'eq', value: 'FR' }, 1, 1],
    ['not in', { field: 'country', op: 'not_in', value: ['FR'] }, 3, 1],
    ['number attribute', { field: 'attribute', key: 'orders', op: 'gte', value: 2 }, 1, 1],
    ['string attribute is never a number', { field: 'attribute', key: 'tier', op: 'gt', value: 0 }, 0, 0],
    ['attribute eq', { field: 'attribute', key: 'tier', op: 'eq', value: 'gold' }, 1, 1],
    ['attribute contains', { field: 'attribute', key: 'tier', op: 'contains', value: 'IL' }, 1, 1],
    ['email set', { field: 'email', op: 'is_set' }, 1, 0],
    ['created recently', { field: 'created_at', op: 'within_days', value: 1 }, 4, 2],
    ['never ordered', { field: 'last_ordered_at', op: 'is_not_set' }, 4, 2],
    ['all', { all: [{ field: 'tags', op: 'has', value: 'vip' }, { field: 'consent', op: 'eq', value: 'subscribed' }] }, 1, 1],
    ['any', { any: [{ field: 'country', op: 'eq', value: 'FR' }, { field: 'attribute', key: 'orders', op: 'lt', value: 2 }] }, 2, 1],
    ['not', { not: { field: 'tags', op: 'has', value: 'vip' } }, 2, 1],
  ];
  for (const [label, rule, contactsCount, subscribed] of cases) {
    const result = await count(rule);
    t.same([result.status, result.body], [200, { contacts: contactsCount, subscribed }], label);
  }
});

t.test('unknown fields, operators, shapes and oversized trees are refused', async (t) => {
  const bad: Array<[string, unknown]> = [
    ['unknown field', { field: 'phone_e164', op: 'eq', value: 'x' }],
    ['unknown operator', { field: 'consent', op: 'like', value: 'sub%' }],
    ['wrong value type', { field: 'consent', op: 'eq', value: 1 }],
    ['extra property', { field: 'consent', op: 'eq', value: 'subscribed', sql: '1=1' }],
    ['attribute key injection', { field: 'attribute', key: "tier' or '1'='1", op: 'is_set' }],
    ['empty group', { all: [] }],
    ['too deep', { not: { not: { not: { not: { not: { field: 'consent', op: 'eq', value: 'never' } } } } } }],
    ['too many conditions', { any: Array.from({ length: 51 }, () => ({ field: 'consent', op: 'eq', value: 'never' })) }],
  ];
  for (const [label, rule] of bad) t.equal((await count(rule)).status, 400, label);
});

t.test('values are parameters, never SQL', async (t) => {
  const injections = ["vip' or 1=1 --", "'); drop table app.contacts; --", '%'];
  for (const value of injections) {
    const result = await count({ field: 'tags', op: 'has', value });
    t.same(result.body, { contacts: 0, subscribed: 0 }, value);
  }
  const like = await count({ field: 'attribute', key: 'tier', op: 'contains', value: '%' });
  t.same(like.body, { contacts: 0, subscribed: 0 }, 'a % in a contains value is a literal %');
  const { rows } = await db.admin.query('select count(*)::int as n from app.contacts');
  t.equal(rows[0].n, 8, 'and nothing happened to the table');
});

t.test("another shop's segment is 404 and a deleted contact is never counted", async (t) => {
  const mine = await count({ field: 'tags', op: 'has', value: 'vip' });
  for (const [method, url, payload] of [
    ['GET', `/api/v1/segments/${mine.id}`, undefined],
    ['GET', `/api/v1/segments/${mine.id}/count`, undefined],
    ['PATCH', `/api/v1/segments/${mine.id}`, { name: 'stolen' }],
    ['DELETE', `/api/v1/segments/${mine.id}`, undefined],
  ] as const) {
    t.equal((await app.inject({ method, url, headers: b.headers, ...(payload ? { payload } : {}) })).statusCode, 404, `${method} ${url}`);
  }
  const list = await app.inject({ url: '/api/v1/contacts?tag=vip&consent=subscribed', headers: a.headers });
  await app.inject({ method: 'DELETE', url: `/api/v1/contacts/${list.json().items[0].id}`, headers: a.headers });
  const after = await app.inject({ url: `/api/v1/segments/${mine.id}/count`, headers: a.headers });
  t.same(after.json(), { contacts: 1, subscribed: 0 });
  const listed = await app.inject({ url: '/api/v1/segments?limit=1', headers: a.headers });
  t.equal(listed.json().items.length, 1);
  t.type(listed.json().nextCursor, 'string');
  t.equal((await app.inject({ url: '/api/v1/segments?bogus=1', headers: a.headers })).statusCode, 400);
});
