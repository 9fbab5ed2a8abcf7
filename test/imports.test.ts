// CSV import, as every bad file and every crash: wrong media type, empty, header only, no
// phone column, too large, too many rows, binary, not UTF-8, bad rows, duplicates,
// formula cells, an import trying to re-subscribe, a crash mid-file, another shop's import.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { processImport } from '../src/modules/imports/process.js';
import { verifyShopChains } from '../src/modules/contacts/consent-chain.js';
import { withShop } from '../src/db/with-shop.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1', IMPORT_MAX_BYTES: '20000', IMPORT_MAX_ROWS: '50' });
const account = () => signUp(app);

function multipart(file: Buffer | string, fields: Record<string, string> = {}, fileName = 'contacts.csv') {
  const boundary = `----pigeon${randomUUID()}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/csv\r\n\r\n`), Buffer.from(file), Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
async function upload(who: { headers: Record<string, string> }, file: Buffer | string, fields: Record<string, string> = {}, fileName?: string) {
  const body = multipart(file, fields, fileName);
  return app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...who.headers, ...body.headers }, payload: body.payload });
}
const status = async (who: { headers: Record<string, string> }, id: string) => (await app.inject({ url: `/api/v1/contacts/imports/${id}`, headers: who.headers })).json();
const importCount = async (shopId: string) => (await db.admin.query('select count(*)::int as n from app.contact_imports where shop_id = $1', [shopId])).rows[0].n;

t.test('a good file: 202, then the job applies it with progress and consent from the import', async (t) => {
  const shop = await account();
  const csv = 'Phone,Email,First Name,Last Name,Tags,Consent\r\n(415) 555-0101,ann@example.test,Ann,Lee,"vip, boston",yes\r\n+33612345678,,Chloé,,paris,no\r\n';
  const res = await upload(shop, csv, {}, '../../etc/passwd');
  t.equal(res.statusCode, 202);
  t.match(res.json(), { status: 'queued', rows: 2 });
  const id = res.json().id;
  t.equal((await status(shop, id)).fileName, 'passwd', 'the client file name is never a path');
  const { rows: jobs } = await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key = $1`, [`${shop.shopId}:import:${id}`]);
  t.equal(jobs[0].n, 1, 'the job was added with the upload');
  await processImport(db.workerDb, shop.shopId, id);
  t.match(await status(shop, id), { status: 'completed', rowsTotal: 2, rowsRead: 2, inserted: 2, updated: 0, failed: 0, skipped: 0 });
  const list = (await app.inject({ url: '/api/v1/contacts', headers: shop.headers })).json().items;
  t.same(list.map((c: { phone: string; consent: string; tags: string[] }) => [c.phone, c.consent, c.tags]).sort(), [['+14155550101', 'subscribed', ['vip', 'boston']], ['+33612345678', 'unsubscribed', ['paris']]]);
  const first = list.find((c: { phone: string }) => c.phone === '+14155550101');
  const history = (await app.inject({ url: `/api/v1/contacts/${first.id}/consent`, headers: shop.headers })).json().items;
  t.same(history.map((e: { source: string }) => e.source), ['import']);
  const { rows } = await db.admin.query(`select count(*)::int as n from app.contact_import_chunks where import_id = $1`, [id]);
  t.equal(rows[0].n, 0, 'the upload is deleted once applied');
});

t.test('bad rows are reported with line and reason, formula cells stored as text, duplicates caught', async (t) => {
  const shop = await account();
  const csv = ['phone,email,first_name', '+14155550201,a@example.test,=HYPERLINK("http://evil")', 'not-a-phone,b@example.test,Bob', '+14155550202,not-an-email,Cat', '+1 415 555 0201,c@example.test,Dup', ',d@example.test,NoPhone', '+14155550203,,Dee'].join('\n');
  const id = (await upload(shop, csv)).json().id;
  await processImport(db.workerDb, shop.shopId, id);
  t.match(await status(shop, id), { status: 'completed', rowsRead: 6, inserted: 2, failed: 3, skipped: 1 });
  const contacts = (await app.inject({ url: '/api/v1/contacts?q=%2B14155550201', headers: shop.headers })).json().items;
  t.equal(contacts[0].firstName, '=HYPERLINK("http://evil")', 'stored as the text it is');
  const errors = await app.inject({ url: `/api/v1/contacts/imports/${id}/errors`, headers: shop.headers });
  t.match(errors.headers['content-type'], /text\/csv/);
  const lines = errors.body.trim().split('\r\n');
  t.equal(lines[0], 'line,reason,phone');
  t.same(lines.slice(1), ["3,invalid phone number,", "4,invalid email,'+*******0202", "5,duplicate phone in file,'+*******0201", '6,missing phone number,'], 'line, reason and the masked phone (a leading + is neutralised for spreadsheets)');
  const { rows: stored } = await db.admin.query(`select e::text as row from app.contact_import_errors e where import_id = $1`, [id]);
  for (const pii of ['example.test', 'Bob', 'Cat', 'Dup', 'NoPhone', '4155550202', '4155550201', 'not-a-phone']) {
    t.notOk(stored.some((r) => r.row.includes(pii)), `no stored error row holds ${pii}`);
  }
});

t.test('an import never re-subscribes someone who unsubscribed', async (t) => {
  const shop = await account();
  const created = await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: shop.headers, payload: { phone: '+14155550301', consent: 'subscribed', firstName: 'Old' } });
  await app.inject({ method: 'POST', url: `/api/v1/contacts/${created.json().id}/consent`, headers: shop.headers, payload: { state: 'unsubscribed' } });
  const id = (await upload(shop, 'phone,first_name,consent\n+14155550301,New,subscribed\n')).json().id;
  await processImport(db.workerDb, shop.shopId, id);
  const contact = (await app.inject({ url: `/api/v1/contacts/${created.json().id}`, headers: shop.headers })).json();
  t.same([contact.firstName, contact.consent], ['New', 'unsubscribed'], 'the name is updated, the opt-out stays');
  t.match(await status(shop, id), { updated: 1, inserted: 0 });
});

t.test('a crash mid-file followed by a retry gives the same final rows', async (t) => {
  const shop = await account();
  const rows = Array.from({ length: 9 }, (_, i) => `+1415555${String(400 + i).padStart(4, '0')},Name${i},yes`);
  const csv = ['phone,first_name,consent', ...rows, rows[0]].join('\n');
  const id = (await upload(shop, csv)).json().id;
  await t.rejects(processImport(db.workerDb, shop.shopId, id, { batchSize: 2, afterBatch: async (n) => { if (n === 2) throw new Error('crash'); } }), /crash/);
  const midway = await status(shop, id);
  t.match(midway, { status: 'running', inserted: 4 });
  await processImport(db.workerDb, shop.shopId, id, { batchSize: 2 });
  t.match(await status(shop, id), { status: 'completed', rowsRead: 10, inserted: 9, skipped: 1, failed: 0 });
  const { rows: counted } = await db.admin.query(`select count(*)::int as contacts, (select count(*)::int from app.consent_events where shop_id = $1) as events from app.contacts where shop_id = $1`, [shop.shopId]);
  t.same(counted[0], { contacts: 9, events: 9 }, 'no contact or consent link twice');
  const errors = await app.inject({ url: `/api/v1/contacts/imports/${id}/errors`, headers: shop.headers });
  t.match(errors.body, /11,duplicate phone in file/, 'the duplicate of a row before the crash is still caught');
  t.same(await withShop(db.apiDb, shop.shopId, (tx) => verifyShopChains(tx, shop.shopId)), { ok: true, contacts: 9, events: 9, firstBroken: null });
  await processImport(db.workerDb, shop.shopId, id);
  t.match(await status(shop, id), { inserted: 9 }, 'running a finished import again does nothing');
});

t.test('bad uploads get a clear answer and leave nothing behind', async (t) => {
  const shop = await account();
  const json = await app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: shop.headers, payload: { phone: '+14155550101' } });
  t.equal(json.statusCode, 415, 'JSON instead of multipart');
  const text = await app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...shop.headers, 'content-type': 'text/csv' }, payload: 'phone\n+14155550101\n' });
  t.equal(text.statusCode, 415, 'raw CSV instead of multipart');
  const cases: Array<[string, Buffer | string, number, string, Record<string, string>?]> = [
    ['empty file', '', 400, 'EMPTY_FILE'],
    ['header only', 'phone,email\n', 400, 'EMPTY_FILE'],
    ['no phone column', 'name,email\nAnn,a@example.test\n', 400, 'NO_PHONE_COLUMN'],
    ['binary', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x08, 0x00]), 400, 'BINARY_FILE'],
    ['not UTF-8', Buffer.concat([Buffer.from('phone,first_name\n+14155550101,'), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('\n')]), 400, 'INVALID_ENCODING'],
    ['too large', `phone,note\n+14155550101,${'x'.repeat(25_000)}\n`, 413, 'FILE_TOO_LARGE'],
    ['too many rows', `phone\n${Array.from({ length: 60 }, (_, i) => `+1415555${String(1000 + i)}`).join('\n')}\n`, 413, 'TOO_MANY_ROWS'],
    ['bad mapping', 'phone\n+14155550101\n', 400, 'INVALID_MAPPING', { mapping: '{"password":"x"}' }],
  ];
  for (const [label, file, code, error, fields] of cases) {
    const res = await upload(shop, file, fields ?? {});
    t.equal(res.statusCode, code, label);
    t.equal(res.json().error.code, error, label);
  }
  t.equal(await importCount(shop.shopId), 0, 'no import row, chunk or job was left by any refusal');
  const { rows } = await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key like $1`, [`${shop.shopId}:import:%`]);
  t.equal(rows[0].n, 0);
});

t.test('a mapping names the phone column; a BOM and CRLF are fine', async (t) => {
  const shop = await account();
  const res = await upload(shop, '\uFEFFMobile #,Given\r\n+14155550501,Eve\r\n', { mapping: JSON.stringify({ phone: 'Mobile #', first_name: 'Given' }), consent: 'subscribed' });
  t.equal(res.statusCode, 202);
  await processImport(db.workerDb, shop.shopId, res.json().id);
  const contacts = (await app.inject({ url: '/api/v1/contacts', headers: shop.headers })).json().items;
  t.same(contacts.map((c: { phone: string; firstName: string; consent: string }) => [c.phone, c.firstName, c.consent]), [['+14155550501', 'Eve', 'subscribed']]);
});

t.test("another shop's import is 404, and an upload retried with its key is one import", async (t) => {
  const a = await account();
  const b = await account();
  const id = (await upload(a, 'phone\n+14155550601\n')).json().id;
  t.equal((await app.inject({ url: `/api/v1/contacts/imports/${id}`, headers: b.headers })).statusCode, 404);
  t.equal((await app.inject({ url: `/api/v1/contacts/imports/${id}/errors`, headers: b.headers })).statusCode, 404);
  const body = multipart('phone\n+14155550602\n');
  const send = () => app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...a.headers, ...body.headers, 'idempotency-key': 'upload-1' }, payload: body.payload });
  const first = await send();
  const again = await send();
  t.equal(again.json().id, first.json().id);
  t.equal(again.headers['idempotent-replayed'], 'true');
});

t.test('a multipart content type over a body that is not multipart is a 400 in the envelope, and imports nothing', async (t) => {
  const shop = await account();
  const boundary = `----pigeon${randomUUID()}`;
  for (const [label, contentType, payload] of [
    ['no boundary', 'multipart/form-data', 'phone\n+14155550999\n'],
    ['plain text under a boundary', `multipart/form-data; boundary=${boundary}`, 'phone\n+14155550999\n'],
    ['JSON under a boundary', `multipart/form-data; boundary=${boundary}`, JSON.stringify({ file: 'phone\n+14155550999' })],
    ['a part that never ends', `multipart/form-data; boundary=${boundary}`, `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nphone\n+14155550999\n`],
    ['an empty body', `multipart/form-data; boundary=${boundary}`, ''],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...shop.headers, 'content-type': contentType }, payload });
    t.equal(res.statusCode, 400, `${label}: 400`);
    t.match(res.json().error, { code: String, message: String, requestId: res.headers['x-request-id'] }, `${label}: the envelope`);
  }
  t.equal(await importCount(shop.shopId), 0, 'nothing was imported or left behind');
});

t.test("an upload's Idempotency-Key is matched by the file's SHA-256, not its length", async (t) => {
  const shop = await account();
  const key = `upload-${randomUUID()}`;
  const send = (file: string, fields: Record<string, string> = {}) => {
    const body = multipart(file, fields);
    return app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...shop.headers, ...body.headers, 'idempotency-key': key }, payload: body.payload });
  };
  const original = 'phone\n+14155550701\n';
  const sameSize = 'phone\n+14155550702\n';
  t.equal(Buffer.byteLength(original), Buffer.byteLength(sameSize), 'two files of one size');
  const first = await send(original);
  t.equal(first.statusCode, 202);
  const chunks = async () => (await db.admin.query('select count(*)::int as n from app.contact_import_chunks where shop_id = $1', [shop.shopId])).rows[0].n;
  const jobs = async () => (await db.admin.query(`select count(*)::int as n from graphile_worker._private_jobs where key like $1`, [`${shop.shopId}:import:%`])).rows[0].n;
  const before = { imports: await importCount(shop.shopId), chunks: await chunks(), jobs: await jobs() };

  const other = await send(sameSize);
  t.equal(other.statusCode, 422, 'another file of the same size under the key: 422');
  t.equal(other.json().error.code, 'IDEMPOTENCY_KEY_REUSED');
  const otherFields = await send(original, { consent: 'subscribed' });
  t.equal(otherFields.statusCode, 422, 'the same file with other fields: 422');
  t.same({ imports: await importCount(shop.shopId), chunks: await chunks(), jobs: await jobs() }, before, 'the refused uploads were rolled back: no import, chunk or job left');

  const replay = await send(original);
  t.equal(replay.statusCode, 202);
  t.equal(replay.headers['idempotent-replayed'], 'true');
  t.equal(replay.body, first.body, 'the stored response, byte for byte');
  t.same({ imports: await importCount(shop.shopId), chunks: await chunks(), jobs: await jobs() }, before, 'the replay stored nothing either');

  await processImport(db.workerDb, shop.shopId, first.json().id);
  const phones = (await app.inject({ url: '/api/v1/contacts', headers: shop.headers })).json().items.map((c: { phone: string }) => c.phone);
  t.same(phones, ['+14155550701'], "only the first file's contacts were imported");
});
