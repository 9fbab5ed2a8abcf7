// Personal data does not outlive its purpose: the daily per-shop retention job, the global
// sweeps (provider event ids, ended sessions), import error rows that never hold the CSV
// line, and a contact's redaction and data request covering its import errors.
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { parseCrontab, type JobHelpers } from 'graphile-worker';
import { ensureDatabase, ROLES, urlForRole } from '../src/db/bootstrap.js';
import { readMigrations } from '../src/db/migrate.js';
import { withShop } from '../src/db/with-shop.js';
import { maskPhone } from '../src/lib/phone-mask.js';
import { sweepEndedSessions } from '../src/modules/auth/session-sweep.js';
import { processImport } from '../src/modules/imports/process.js';
import { applyRetention } from '../src/modules/maintenance/service.js';
import { applyCreditEntry, debitRecipients } from '../src/modules/wallet/service.js';
import { CRONTAB_FILE, loadTaskList } from '../src/task-list.js';
import { setWorkerDb } from '../src/worker-context.js';
import providerEventsSweep from '../tasks/provider_events_sweep.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { testCluster } from './helpers/cluster.js';
import { createTestDatabase } from './helpers/database.js';
import { createShop, createUser } from './helpers/fixtures.js';

const db = await createTestDatabase(t);
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);
const count = async (text: string, params: unknown[]) => (await db.admin.query<{ n: number }>(`select count(*)::int as n from ${text}`, params)).rows[0]!.n;

/**
 * One shop's data of every kind the retention job handles, half of it older than the
 * shop's cut-off (`retentionDays`) and half newer. Arranged as the superuser: set-up
 * crosses tenants on purpose, the code under test never does.
 */
async function shopWithHistory(retentionDays: number) {
  const shopId = await createShop(db.admin);
  await db.admin.query('update app.shop_settings set retention_days = $2 where shop_id = $1', [shopId, retentionDays]);
  const old = daysAgo(retentionDays + 5);
  const recent = daysAgo(retentionDays - 5);
  const contactId = randomUUID();
  await db.admin.query(`insert into app.contacts (shop_id, id, phone_e164, first_name) values ($1, $2, '+14155550100', 'Ann')`, [shopId, contactId]);

  const campaigns: Record<'old' | 'recent' | 'oldDraft', string> = { old: randomUUID(), recent: randomUUID(), oldDraft: randomUUID() };
  for (const [name, id] of Object.entries(campaigns)) {
    const finished = name === 'recent' ? recent : old;
    const status = name === 'oldDraft' ? 'draft' : 'sent';
    await db.admin.query(
      `insert into app.campaigns (shop_id, id, name, body, status, finished_at, recipients_total) values ($1, $2, $3, 'Hi', $4, $5, 1)`,
      [shopId, id, name, status, status === 'sent' ? finished : null],
    );
  }
  const recipients: Record<'old' | 'recent', string> = { old: '', recent: '' };
  for (const name of ['old', 'recent'] as const) {
    const { rows } = await db.admin.query<{ id: string }>(
      `insert into app.campaign_recipients (shop_id, campaign_id, contact_id, status, segments, credits, provider_message_id)
       values ($1, $2, $3, 'delivered', 1, 1, $4) returning id::text`,
      [shopId, campaigns[name], contactId, `pm-${randomUUID()}`],
    );
    recipients[name] = rows[0]!.id;
    await db.admin.query(
      `insert into app.messages (shop_id, campaign_id, recipient_id, contact_id, provider_message_id, segments, encoding, credits, sent_at)
       select shop_id, campaign_id, id, contact_id, provider_message_id, 1, 'GSM-7', 1, $3 from app.campaign_recipients where shop_id = $1 and id = $2`,
      [shopId, recipients[name], name === 'old' ? old : recent],
    );
  }
  // Money: a purchase, a reservation and one debit per recipient, as the send path writes them.
  await withShop(db.workerDb, shopId, async (tx) => {
    await applyCreditEntry(tx, { shopId, kind: 'purchase', credits: 10, idempotencyKey: `buy-${shopId}` });
    for (const name of ['old', 'recent'] as const) {
      await applyCreditEntry(tx, { shopId, kind: 'reserve', credits: 1, idempotencyKey: `reserve-${name}`, referenceType: 'campaign', referenceId: campaigns[name] });
      await debitRecipients(tx, campaigns[name], [{ recipientId: recipients[name], credits: 1 }]);
    }
  });

  await db.admin.query(
    `insert into app.inbound_messages (shop_id, event_id, contact_id, keyword, received_at) values ($1, $2, $3, 'stop', $4), ($1, $5, $3, 'help', $6)`,
    [shopId, `old-${randomUUID()}`, contactId, old, `recent-${randomUUID()}`, recent],
  );

  const imports: Record<'old' | 'recent' | 'oldStuck', string> = { old: randomUUID(), recent: randomUUID(), oldStuck: randomUUID() };
  for (const [name, id] of Object.entries(imports)) {
    const created = name === 'recent' ? recent : old;
    const status = name === 'oldStuck' ? 'running' : 'completed';
    await db.admin.query(`insert into app.contact_imports (shop_id, id, status, created_at) values ($1, $2, $3, $4)`, [shopId, id, status, created]);
    await db.admin.query(
      `insert into app.contact_import_errors (shop_id, import_id, line, reason, phone_masked, contact_id) values ($1, $2, 2, 'invalid email', '+*******0100', $3)`,
      [shopId, id, contactId],
    );
    if (name !== 'old') await db.admin.query(`insert into app.contact_import_chunks (shop_id, import_id, seq, data) values ($1, $2, 0, $3)`, [shopId, id, Buffer.from('phone\n+14155550100\n')]);
  }
  await db.admin.query(`insert into app.audit_events (shop_id, action, result, created_at) values ($1, 'old.event', 'success', $2), ($1, 'recent.event', 'success', $3)`, [shopId, old, recent]);
  // Invitations: one that expired before the cut-off, one accepted after it, one still open.
  for (const [email, expires, accepted] of [
    ['expired@example.test', old, null],
    ['accepted@example.test', daysAgo(retentionDays - 6), recent],
    ['open@example.test', new Date(Date.now() + DAY), null],
  ] as const) {
    await db.admin.query(
      `insert into app.member_invitations (shop_id, email, role, token_hash, token_ciphertext, created_at, expires_at, accepted_at) values ($1, $2, 'member', $3, 'x', $4, $5, $6)`,
      [shopId, email, randomBytes(32), daysAgo(retentionDays + 20), expires, accepted],
    );
  }
  return { shopId, contactId, campaigns, recipients, imports };
}

type History = Awaited<ReturnType<typeof shopWithHistory>>;

async function snapshot(h: History) {
  const one = async <T extends pg.QueryResultRow>(text: string, params: unknown[]) => (await db.admin.query<T>(text, params)).rows;
  return {
    recipients: await one<{ campaign_id: string; contact_id: string | null; provider_message_id: string | null; status: string; credits: number }>(
      'select campaign_id, contact_id, provider_message_id, status::text, credits from app.campaign_recipients where shop_id = $1',
      [h.shopId],
    ),
    messages: await one<{ campaign_id: string; contact_id: string | null; provider_message_id: string | null; credits: number }>(
      'select campaign_id, contact_id, provider_message_id, credits from app.messages where shop_id = $1',
      [h.shopId],
    ),
    ledger: await one<{ kind: string; credits: string; reference_id: string | null }>('select kind::text, credits::text, reference_id from app.credit_ledger where shop_id = $1 order by id', [h.shopId]),
    inbound: (await one<{ keyword: string }>('select keyword from app.inbound_messages where shop_id = $1 order by keyword', [h.shopId])).map((r) => r.keyword),
    importErrors: (await one<{ import_id: string }>('select import_id from app.contact_import_errors where shop_id = $1', [h.shopId])).map((r) => r.import_id).sort(),
    chunks: (await one<{ import_id: string }>('select import_id from app.contact_import_chunks where shop_id = $1', [h.shopId])).map((r) => r.import_id).sort(),
    imports: Object.fromEntries((await one<{ id: string; status: string }>('select id, status::text from app.contact_imports where shop_id = $1', [h.shopId])).map((r) => [r.id, r.status])),
    invitations: (await one<{ email: string }>('select email::text from app.member_invitations where shop_id = $1 order by email', [h.shopId])).map((r) => r.email),
    audit: (await one<{ action: string }>(`select action from app.audit_events where shop_id = $1 and action <> 'retention.applied' order by action`, [h.shopId])).map((r) => r.action),
  };
}

t.test("retention removes each kind of personal data older than the shop's cut-off, keeps newer rows, money and counts, and never touches another shop", async (t) => {
  const a = await shopWithHistory(60);
  const b = await shopWithHistory(60);
  const before = { a: await snapshot(a), b: await snapshot(b) };

  const result = await applyRetention(db.workerDb, a.shopId);
  t.same(result, {
    auditEventsPurged: 1,
    importErrorRowsDeleted: 2,
    importChunksDeleted: 1,
    importsExpired: 1,
    inboundMessagesDeleted: 1,
    invitationsDeleted: 1,
    campaignsAnonymised: 1,
    recipientsAnonymised: 1,
    messagesAnonymised: 1,
  });
  const after = await snapshot(a);

  const recipientOf = (s: typeof after, campaign: string) => s.recipients.find((r) => r.campaign_id === campaign)!;
  const messageOf = (s: typeof after, campaign: string) => s.messages.find((r) => r.campaign_id === campaign)!;
  t.match(recipientOf(after, a.campaigns.old), { contact_id: null, provider_message_id: null, status: 'delivered', credits: 1 }, "an old finished campaign's recipient loses its person, keeps its state and cost");
  t.match(messageOf(after, a.campaigns.old), { contact_id: null, provider_message_id: null, credits: 1 }, 'and so does its message');
  t.same(recipientOf(after, a.campaigns.recent), recipientOf(before.a, a.campaigns.recent), "a recent campaign's recipient is untouched");
  t.same(messageOf(after, a.campaigns.recent), messageOf(before.a, a.campaigns.recent), "a recent campaign's message is untouched");
  t.same(after.ledger, before.a.ledger, 'the credit ledger is financial: every entry stays as it was');
  t.ok(
    after.ledger.some((e) => e.kind === 'debit' && e.reference_id === `${a.campaigns.old}:${a.recipients.old}`),
    "the old campaign's debit still points at its (anonymised) recipient",
  );
  const { rows: metrics } = await db.admin.query(`select count(*)::int as n from app.campaign_recipients where shop_id = $1 and campaign_id = $2 and status = 'delivered'`, [a.shopId, a.campaigns.old]);
  t.equal(metrics[0].n, 1, 'campaign metrics still count the anonymised recipient');

  t.same(after.inbound, ['help'], 'the old inbound STOP is deleted, the recent HELP kept');
  t.same(after.importErrors, [a.imports.recent], 'import error rows of old imports are deleted');
  t.same(after.chunks, [a.imports.recent], 'the upload left behind by an old unfinished import is deleted');
  t.equal(after.imports[a.imports.oldStuck], 'failed', 'and that import is marked failed, so a late retry does not run on nothing');
  t.equal(after.imports[a.imports.old], 'completed', 'import rows themselves (counters, no personal data) stay');
  t.same(after.audit, ['recent.event'], 'audit events older than the cut-off are purged');
  t.same(after.invitations, ['accepted@example.test', 'open@example.test'], "an invitation that ended before the cut-off goes with its e-mail address; one that ended after it, or is open, stays");
  const { rows: campaigns } = await db.admin.query(`select id, personal_data_removed_at is not null as done from app.campaigns where shop_id = $1`, [a.shopId]);
  t.same(Object.fromEntries(campaigns.map((c) => [c.id, c.done])), { [a.campaigns.old]: true, [a.campaigns.recent]: false, [a.campaigns.oldDraft]: false }, 'only the finished old campaign is marked');

  t.same(await snapshot(b), before.b, "shop B's old rows are all still there after shop A's run");

  const again = await applyRetention(db.workerDb, a.shopId);
  t.same(Object.values(again).filter((n) => n !== 0), [], 'a second run finds nothing left to do');
  const { rows: audited } = await db.admin.query(`select metadata from app.audit_events where shop_id = $1 and action = 'retention.applied' order by created_at limit 1`, [a.shopId]);
  t.match(audited[0].metadata, { retentionDays: 60, campaignsAnonymised: 1, inboundMessagesDeleted: 1 }, 'the run is audited with its counts');
});

t.test("after retention, an old campaign is no longer linked to the contact", async (t) => {
  const h = await shopWithHistory(45);
  await applyRetention(db.workerDb, h.shopId);
  const { rows } = await db.admin.query(`select campaign_id from app.campaign_recipients where shop_id = $1 and contact_id = $2`, [h.shopId, h.contactId]);
  t.same(rows.map((r) => r.campaign_id), [h.campaigns.recent]);
});

t.test('the worker cannot delete anything of another shop, nor sweep without a shop', async (t) => {
  const a = await shopWithHistory(60);
  const b = await shopWithHistory(60);
  await withShop(db.workerDb, a.shopId, async (tx) => {
    for (const table of ['app.inbound_messages', 'app.contact_import_errors', 'app.contact_import_chunks'] as const) {
      const res = await tx.deleteFrom(table).where('shop_id', '=', b.shopId).executeTakeFirst();
      t.equal(Number(res.numDeletedRows), 0, `${table}: B's rows are invisible to A's transaction`);
    }
  });
  t.equal(await count('app.inbound_messages where shop_id = $1', [b.shopId]), 2);
  t.equal(await count('app.contact_import_errors where shop_id = $1', [b.shopId]), 3);
  await t.rejects(db.apiPool.query('delete from app.inbound_messages'), { code: '42501' }, 'the API role has no DELETE on inbound messages');
});

t.test('ended sessions are deleted 30 days after they ended, with their refresh tokens; live ones never', async (t) => {
  const userId = await createUser(db.admin);
  const session = async (expires: Date, revoked: Date | null) => {
    const { rows } = await db.admin.query<{ id: string }>(
      `insert into app.sessions (user_id, expires_at, revoked_at, ip_hash, user_agent_hash) values ($1, $2, $3, 'h', 'h') returning id`,
      [userId, expires, revoked],
    );
    await db.admin.query(`insert into app.refresh_tokens (session_id, user_id, token_hash, expires_at) values ($1, $2, $3, $4)`, [rows[0]!.id, userId, randomBytes(32), expires]);
    return rows[0]!.id;
  };
  const expiredLongAgo = await session(daysAgo(40), null);
  const revokedLongAgo = await session(new Date(Date.now() + DAY), daysAgo(31));
  const expiredRecently = await session(daysAgo(10), null);
  const live = await session(new Date(Date.now() + DAY), null);

  // Even an unconditional DELETE by the worker reaches only what the policy allows.
  const client = await db.workerPool.connect();
  try {
    await client.query('begin');
    const { rowCount } = await client.query('delete from app.sessions');
    t.equal(rowCount, 2, 'the worker sees only sessions that ended more than 30 days ago');
    await client.query('rollback');
  } finally {
    client.release();
  }

  t.equal(await sweepEndedSessions(db.workerDb), 2);
  const { rows } = await db.admin.query<{ id: string }>('select id from app.sessions where user_id = $1', [userId]);
  t.same(rows.map((r) => r.id).sort(), [expiredRecently, live].sort());
  t.equal(await count('app.refresh_tokens where session_id = any($1)', [[expiredLongAgo, revokedLongAgo]]), 0, 'their refresh tokens went with them');
  await t.rejects(db.apiPool.query(`delete from app.sessions where id = $1`, [live]), { code: '42501' }, 'the API role deletes no session');
});

t.test('the provider_events sweep is scheduled daily and deletes event ids older than 30 days', async (t) => {
  const items = parseCrontab(await readFile(CRONTAB_FILE, 'utf8'));
  const tasks = await loadTaskList();
  for (const task of ['provider_events_sweep', 'session_sweep', 'retention_sweep']) {
    const item = items.find((i) => i.task === task);
    t.ok(item, `the crontab schedules ${task}`);
    t.equal(item?.identifier, task, `${task} has its explicit, never-changing id`);
    t.equal(typeof tasks[task], 'function', `tasks/${task}.ts exists`);
  }

  await db.admin.query(
    `insert into app.provider_events (event_id, kind, received_at) values ('ev-old', 'status', now() - interval '31 days'), ('ev-new', 'inbound', now() - interval '29 days')`,
  );
  setWorkerDb(db.workerDb);
  t.teardown(() => setWorkerDb(undefined));
  const messages: string[] = [];
  await providerEventsSweep({}, { logger: { info: (m: string) => messages.push(m) } } as unknown as JobHelpers);
  const { rows } = await db.admin.query<{ event_id: string }>(`select event_id from app.provider_events where event_id like 'ev-%'`);
  t.same(rows.map((r) => r.event_id), ['ev-new']);
  t.match(messages.join('\n'), /deleted 1 event ids/);
});

t.test('a masked phone shows at most its last four digits', async (t) => {
  t.equal(maskPhone('+14155550123'), '+*******0123');
  t.equal(maskPhone('(415) 555-0123'), '******0123');
  t.equal(maskPhone('12345'), '***45', 'a short number shows two');
  t.equal(maskPhone('1234'), '****', 'a very short one shows none');
  t.equal(maskPhone('not-a-phone'), null);
  t.equal(maskPhone(''), null);
  t.equal(maskPhone('9'.repeat(200)), `${'*'.repeat(16)}9999`, 'bounded');
});

t.test('import errors are erased with their contact and listed in its data request', async (t) => {
  const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
  const { shopId, headers } = await signUp(app);
  const contact = (await app.inject({ method: 'POST', url: '/api/v1/contacts', headers, payload: { phone: '+14155550777', email: 'ann@example.test', firstName: 'Ann' } })).json();

  const csv = ['phone,email,first_name', '+14155550777,not-an-email,Ann', '+14155550888,not-an-email,Bob', '+14155550999,c@example.test,Cy', '+1 415 555 0999,d@example.test,Cy again', 'garbage,e@example.test,Eve'].join('\n');
  const boundary = `----pigeon${randomUUID()}`;
  const payload = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\nContent-Type: text/csv\r\n\r\n${csv}\r\n--${boundary}--\r\n`);
  const importId = (await app.inject({ method: 'POST', url: '/api/v1/contacts/imports', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload })).json().id as string;
  await processImport(db.workerDb, shopId, importId);

  const { rows: stored } = await db.admin.query(`select line, reason, phone_masked, contact_id, e::text as row from app.contact_import_errors e where import_id = $1 order by line`, [importId]);
  const cy = (await db.admin.query(`select id from app.contacts where shop_id = $1 and phone_e164 = '+14155550999'`, [shopId])).rows[0].id;
  t.same(
    stored.map((r) => [r.line, r.reason, r.phone_masked, r.contact_id]),
    [
      [2, 'invalid email', '+*******0777', contact.id],
      [3, 'invalid email', '+*******0888', null],
      [5, 'duplicate phone in file', '+*******0999', cy],
      [6, 'invalid phone number', null, null],
    ],
    'each row: line, reason, mask, and the contact its phone belongs to (the duplicate of a contact this import created too)',
  );
  for (const pii of ['example.test', 'not-an-email', 'Ann', 'Bob', 'Cy', 'Eve', 'garbage', '4155550777', '4155550888', '4155550999']) {
    t.notOk(stored.some((r) => r.row.includes(pii)), `no stored error row holds ${pii}`);
  }

  const data = (await app.inject({ url: `/api/v1/contacts/${contact.id}/data`, headers })).json();
  t.match(data.importErrors, [{ importId, line: 2, reason: 'invalid email', phoneMasked: '+*******0777' }], 'the data request includes its import error rows');
  t.equal(data.importErrors.length, 1, 'and no one else\'s');
  t.ok(Array.isArray(data.campaignRecipients) && Array.isArray(data.messages) && Array.isArray(data.inboundMessages), 'recipients, messages and inbound messages are listed too');

  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/contacts/${contact.id}`, headers })).statusCode, 204);
  t.equal(await count('app.contact_import_errors where shop_id = $1 and contact_id = $2', [shopId, contact.id]), 0, "the redaction erases the contact's import error rows");
  t.equal(await count('app.contact_import_errors where import_id = $1', [importId]), 3, "other people's rows stay");
  const report = await app.inject({ url: `/api/v1/contacts/imports/${importId}/errors`, headers });
  t.equal(report.body, "line,reason,phone\r\n3,invalid email,'+*******0888\r\n5,duplicate phone in file,'+*******0999\r\n6,invalid phone number,\r\n", 'the report: line, reason, masked phone');
});

t.test('migration 0070 masks the rows it finds, links them to their contact and drops the raw line', async (t) => {
  const cluster = await testCluster();
  const name = `pigeon_m70_${randomBytes(5).toString('hex')}`;
  await ensureDatabase(cluster.adminUrl, name);
  const admin = new URL(cluster.adminUrl);
  const client = new pg.Client({ connectionString: urlForRole(cluster.adminUrl, admin.username, decodeURIComponent(admin.password), name) });
  await client.connect();
  t.teardown(async () => {
    await client.end();
    const root = new pg.Client({ connectionString: cluster.adminUrl });
    await root.connect();
    await root.query(`drop database if exists ${root.escapeIdentifier(name)} with (force)`);
    await root.end();
  });
  const asOwner = async (sql: string) => {
    await client.query('begin');
    await client.query(`set local role ${ROLES.owner}`);
    await client.query(sql);
    await client.query('commit');
  };
  await asOwner('create schema pigeon_migrations; create table pigeon_migrations.applied (id integer primary key, name text not null, checksum text not null, applied_at timestamptz not null default now())');
  const migrations = await readMigrations();
  for (const m of migrations.filter((m) => m.id < 70)) await asOwner(m.sql);

  const shopId = randomUUID();
  const importId = randomUUID();
  const ann = randomUUID();
  const gb = randomUUID();
  await client.query(`insert into app.shops (id, name) values ($1, 'S')`, [shopId]);
  await client.query(
    `insert into app.contacts (shop_id, id, phone_e164) values ($1, $2, '+14155550101'), ($1, $3, '+447700900123'),
       ($1, gen_random_uuid(), '+15555550199'), ($1, gen_random_uuid(), '+445555550199')`,
    [shopId, ann, gb],
  );
  await client.query(`insert into app.contact_imports (shop_id, id) values ($1, $2)`, [shopId, importId]);
  await client.query(
    `insert into app.contact_import_errors (shop_id, import_id, line, reason, raw) values
       ($1, $2, 2, 'invalid email', '+14155550101,not-an-email,Ann'),
       ($1, $2, 3, 'duplicate phone in file', '07700 900123,gb@example.test,Gail'),
       ($1, $2, 4, 'invalid phone number', '555-12345,x@example.test,Xi'),
       ($1, $2, 5, 'missing phone number', ',y@example.test,Yo 2024-01-01'),
       ($1, $2, 6, 'invalid email', '(555) 555-0199,bad,Zed')`,
    [shopId, importId],
  );
  await asOwner(migrations.find((m) => m.id === 70)!.sql);

  const { rows } = await client.query(`select line, phone_masked, contact_id, e::text as row from app.contact_import_errors e order by line`);
  t.same(
    rows.map((r) => [r.line, r.phone_masked, r.contact_id]),
    [
      [2, '+*******0101', ann],
      [3, '*******0123', gb],
      [4, '****2345', null],
      [5, null, null],
      [6, '******0199', null],
    ],
    "masked like src/lib/phone-mask.ts; linked only when the number is unambiguously one contact's (line 6 could be +1 or +44)",
  );
  t.same(
    rows.slice(0, 4).map((r) => r.phone_masked),
    ['+14155550101', '07700 900123', '555-12345', null].map((p) => maskPhone(p)),
    'the SQL and TypeScript masks agree',
  );
  for (const pii of ['example.test', 'Ann', 'Gail', 'Xi', 'Zed', 'not-an-email']) t.notOk(rows.some((r) => r.row.includes(pii)), `no row holds ${pii}`);
  const { rows: columns } = await client.query(`select column_name from information_schema.columns where table_schema = 'app' and table_name = 'contact_import_errors' and column_name = 'raw'`);
  t.same(columns, [], 'the raw column is gone');
});
