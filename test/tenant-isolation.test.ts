// Row-level security is the tenant boundary: these attacks run as pigeon_api and must fail.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { readInShop, withShop, withUser } from '../src/db/with-shop.js';
import { barrier } from './helpers/barrier.js';
import { createTestDatabase } from './helpers/database.js';
import { addMember, createShop, createUser } from './helpers/fixtures.js';

const db = await createTestDatabase(t, { apiPoolSize: 2 });
const shopA = await createShop(db.admin, 'Shop A');
const shopB = await createShop(db.admin, 'Shop B');
const userA = await createUser(db.admin);
const userB = await createUser(db.admin);
await addMember(db.admin, shopA, userA, 'owner');
await addMember(db.admin, shopB, userB, 'owner');
await db.admin.query(
  `insert into app.audit_events (shop_id, action, result) values ($1, 'test.event', 'success'), ($2, 'test.event', 'success')`,
  [shopA, shopB],
);

t.test('with shop A set, shop B rows cannot be read', async (t) => {
  await withShop(db.apiDb, shopA, async (tx) => {
    const shops = await tx.selectFrom('app.shops').select('id').execute();
    t.same(shops.map((s) => s.id), [shopA]);
    const settings = await tx.selectFrom('app.shop_settings').select('shop_id').execute();
    t.same(settings.map((s) => s.shop_id), [shopA]);
    const members = await tx.selectFrom('app.memberships').select('shop_id').execute();
    t.same([...new Set(members.map((m) => m.shop_id))], [shopA]);
    const events = await tx.selectFrom('app.audit_events').select('shop_id').execute();
    t.same([...new Set(events.map((e) => e.shop_id))], [shopA]);
    // Even naming shop B explicitly returns nothing.
    const direct = await tx.selectFrom('app.shops').select('id').where('id', '=', shopB).execute();
    t.same(direct, []);
    const users = await tx.selectFrom('app.users').select('id').execute();
    t.same(users.map((u) => u.id), [userA], 'only the staff of the current shop are visible');
  });
});

t.test('with shop A set, shop B rows cannot be updated or deleted', async (t) => {
  await withShop(db.apiDb, shopA, async (tx) => {
    const updated = await tx.updateTable('app.shops').set({ name: 'pwned' }).where('id', '=', shopB).executeTakeFirst();
    t.equal(updated.numUpdatedRows, 0n);
    const settings = await tx.updateTable('app.shop_settings').set({ retention_days: 30 }).where('shop_id', '=', shopB).executeTakeFirst();
    t.equal(settings.numUpdatedRows, 0n);
    const deleted = await tx.deleteFrom('app.memberships').where('shop_id', '=', shopB).executeTakeFirst();
    t.equal(deleted.numDeletedRows, 0n);
  });
  const { rows } = await db.admin.query('select name from app.shops where id = $1', [shopB]);
  t.equal(rows[0].name, 'Shop B', 'shop B is untouched');
  const members = await db.admin.query('select count(*)::int as n from app.memberships where shop_id = $1', [shopB]);
  t.equal(members.rows[0].n, 1);
});

t.test('with shop A set, rows for shop B cannot be inserted', async (t) => {
  await t.rejects(
    withShop(db.apiDb, shopA, (tx) =>
      tx.insertInto('app.audit_events').values({ shop_id: shopB, action: 'forged.event', result: 'success' }).execute(),
    ),
    { code: '42501' },
    'audit event for another shop violates the policy',
  );
  await t.rejects(
    withShop(db.apiDb, shopA, (tx) => tx.insertInto('app.memberships').values({ shop_id: shopB, user_id: userA, role: 'owner' }).execute()),
    { code: '42501' },
    'membership in another shop violates the policy',
  );
  const u = await createUser(db.admin);
  await t.rejects(
    withShop(db.apiDb, shopA, (tx) => tx.insertInto('app.shop_settings').values({ shop_id: shopB }).execute()),
    /row-level security|duplicate key/,
  );
  t.ok(u);
});

t.test('a shop A row cannot reference a shop B row (composite foreign keys)', async (t) => {
  // shop_settings.shop_id references shops; the reference check bypasses RLS, so the
  // policy's WITH CHECK is what refuses it.
  await t.rejects(
    withShop(db.apiDb, shopA, (tx) => tx.updateTable('app.shop_settings').set({ retention_days: 31 }).where('shop_id', '=', shopA).execute().then(() =>
      sql`update app.shop_settings set shop_id = ${shopB} where shop_id = ${shopA}`.execute(tx),
    )),
    { code: '42501' },
  );
});

t.test("a user acting in shop A cannot delete or change their membership in shop B", async (t) => {
  // userA also belongs to shop B; their own membership rows are readable from any shop.
  await addMember(db.admin, shopB, userA, 'member');
  for (const context of [shopA, undefined]) {
    const run = <T>(fn: Parameters<typeof withUser<T>>[2]) =>
      context ? withShop(db.apiDb, context, fn, userA) : withUser(db.apiDb, userA, fn);
    const deleted = await run((tx) => tx.deleteFrom('app.memberships').where('shop_id', '=', shopB).where('user_id', '=', userA).executeTakeFirst());
    t.equal(deleted.numDeletedRows, 0n, `delete refused (${context ? 'in shop A' : 'no shop'})`);
    const updated = await run((tx) =>
      tx.updateTable('app.memberships').set({ role: 'owner' }).where('shop_id', '=', shopB).where('user_id', '=', userA).executeTakeFirst(),
    );
    t.equal(updated.numUpdatedRows, 0n, `role change refused (${context ? 'in shop A' : 'no shop'})`);
  }
  const { rows } = await db.admin.query('select role from app.memberships where shop_id = $1 and user_id = $2', [shopB, userA]);
  t.same(rows, [{ role: 'member' }], "the membership in shop B is untouched");
  await db.admin.query('delete from app.memberships where shop_id = $1 and user_id = $2', [shopB, userA]);
});

t.test('with no shop set nothing is readable', async (t) => {
  const conn = await db.apiPool.connect();
  try {
    for (const table of ['app.shops', 'app.shop_settings', 'app.memberships', 'app.audit_events', 'app.users']) {
      const { rows } = await conn.query(`select count(*)::int as n from ${table}`);
      t.equal(rows[0].n, 0, `${table} is empty without a tenant`);
    }
  } finally {
    conn.release();
  }
  await withUser(db.apiDb, userA, async (tx) => {
    const shops = await tx.selectFrom('app.shops').select('id').execute();
    t.same(shops, [], 'a user context alone sees no shop rows');
    const memberships = await tx.selectFrom('app.memberships').select('shop_id').execute();
    t.same(memberships.map((m) => m.shop_id), [shopA], 'a user sees their own memberships (to switch shops)');
  });
});

t.test('a malformed shop id never reaches SQL', async (t) => {
  await t.rejects(withShop(db.apiDb, "x'); select 1; --", async () => 1), { name: 'InvalidTenantIdError' });
});

t.test('after commit the pooled connection carries no shop', async (t) => {
  // Pool of 2: run on every connection, then inspect the same connections directly. Each
  // transaction holds its connection until both are open (no sleep deciding the overlap).
  const bothOpen = barrier(2);
  const holdOne = (shopId: string) =>
    withShop(db.apiDb, shopId, async (tx) => {
      await sql`select 1`.execute(tx);
      await bothOpen.arrive();
    });
  await Promise.all([holdOne(shopA), holdOne(shopB)]);
  const clients = await Promise.all([db.apiPool.connect(), db.apiPool.connect()]);
  try {
    for (const client of clients) {
      const { rows } = await client.query(
        `select current_setting('app.shop_id', true) as setting, app.current_shop_id() as shop, (select count(*)::int from app.shops) as visible`,
      );
      t.equal(rows[0].setting, '', 'the setting reads as empty after the transaction');
      t.equal(rows[0].shop, null, 'and means no shop');
      t.equal(rows[0].visible, 0, 'and matches nothing');
    }
  } finally {
    for (const client of clients) client.release();
  }
  t.equal(db.apiPool.totalCount, 2, 'the pool really is 2 connections');
});

t.test('500 interleaved requests for two shops over a pool of 2 return no foreign row', async (t) => {
  let foreign = 0;
  const jobs = Array.from({ length: 500 }, (_, i) => {
    const shop = i % 2 === 0 ? shopA : shopB;
    return withShop(db.apiDb, shop, async (tx) => {
      const rows = await tx.selectFrom('app.audit_events').select('shop_id').execute();
      const shops = await tx.selectFrom('app.shops').select('id').execute();
      for (const r of [...rows.map((x) => x.shop_id), ...shops.map((s) => s.id)]) if (r !== shop) foreign++;
      return rows.length + shops.length;
    });
  });
  const counts = await Promise.all(jobs);
  t.equal(foreign, 0);
  t.ok(counts.every((c) => c === 2), 'each saw exactly its own shop and event');
});

t.test('readInShop: its COMMIT is not waited for, so it must refuse every write and leak nothing', async (t) => {
  await t.rejects(
    readInShop(db.apiDb, shopA, (tx) => tx.insertInto('app.audit_events').values({ shop_id: shopA, action: 'test.write', result: 'success' }).execute()),
    { code: '25006' },
    'a plain write is refused (read-only transaction)',
  );
  await t.rejects(
    readInShop(db.apiDb, shopA, (tx) => sql`select app_private.add_job('rate_limit_sweep', ${JSON.stringify({ shopId: shopA })}::jsonb)`.execute(tx)),
    { code: '25006' },
    'a write hidden in a function is refused too',
  );
  // Interleaved reads over 2 pipelined connections: each sees only its shop, and the
  // queued COMMIT never lets a shop leak into the next transaction on the connection.
  let foreign = 0;
  const counts = await Promise.all(
    Array.from({ length: 500 }, (_, i) => {
      const shop = i % 2 === 0 ? shopA : shopB;
      const read = (tx: Parameters<Parameters<typeof readInShop>[2]>[0]) => tx.selectFrom('app.shops').select('id').execute();
      // Mix in ordinary transactions so that both kinds follow each other on a connection.
      const run = i % 3 === 0 ? withShop(db.apiDb, shop, read) : readInShop(db.apiDb, shop, read);
      return run.then((rows) => {
        for (const r of rows) if (r.id !== shop) foreign++;
        return rows.length;
      });
    }),
  );
  t.equal(foreign, 0);
  t.ok(counts.every((c) => c === 1), 'each saw exactly its own shop');
  const clients = await Promise.all([db.apiPool.connect(), db.apiPool.connect()]);
  try {
    for (const client of clients) {
      const { rows } = await client.query(`select current_setting('app.shop_id', true) as setting, now() = statement_timestamp() as outside_transaction`);
      t.same(rows[0], { setting: '', outside_transaction: true }, 'no shop, and no transaction left open');
    }
  } finally {
    for (const client of clients) client.release();
  }
});

t.test('run-time roles have no BYPASSRLS, are not superusers and own no table', async (t) => {
  const { rows } = await db.admin.query(
    `select rolname, rolbypassrls, rolsuper from pg_roles where rolname in ('pigeon_api', 'pigeon_worker') order by rolname`,
  );
  t.same(rows, [
    { rolname: 'pigeon_api', rolbypassrls: false, rolsuper: false },
    { rolname: 'pigeon_worker', rolbypassrls: false, rolsuper: false },
  ]);
  const owned = await db.admin.query(
    `select n.nspname, c.relname, pg_get_userbyid(c.relowner) as owner
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where pg_get_userbyid(c.relowner) in ('pigeon_api', 'pigeon_worker')
        and n.nspname in ('app', 'app_private', 'pigeon_migrations', 'public')`,
  );
  t.same(owned.rows, [], 'no application relation is owned by a run-time role');
});

t.test('run-time roles cannot update or delete audit events', async (t) => {
  for (const pool of [db.apiPool, db.workerPool]) {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`select set_config('app.shop_id', $1, true)`, [shopA]);
      await t.rejects(client.query(`update app.audit_events set action = 'tampered'`), { code: '42501' });
      await client.query('rollback');
      await client.query('begin');
      await client.query(`select set_config('app.shop_id', $1, true)`, [shopA]);
      await t.rejects(client.query(`delete from app.audit_events`), { code: '42501' });
      await client.query('rollback');
      await t.rejects(client.query(`truncate app.audit_events`), { code: '42501' });
    } finally {
      client.release();
    }
  }
  const { rows } = await db.admin.query(`select count(*)::int as n from app.audit_events where action = 'test.event'`);
  t.equal(rows[0].n, 2);
});

t.test("user-owned rows (sessions, refresh tokens, outbox) are visible to their user only", async (t) => {
  const expires = new Date(Date.now() + 86_400_000);
  const sessionA = randomUUID();
  const sessionB = randomUUID();
  await db.admin.query('insert into app.sessions (id, user_id, expires_at) values ($1, $2, $5), ($3, $4, $5)', [sessionA, userA, sessionB, userB, expires]);
  await db.admin.query(`insert into app.refresh_tokens (session_id, user_id, token_hash, expires_at) values ($1, $2, sha256('a'), $3)`, [sessionA, userA, expires]);
  await db.admin.query(`insert into app.refresh_tokens (session_id, user_id, token_hash, expires_at) values ($1, $2, sha256('b'), $3)`, [sessionB, userB, expires]);
  await db.admin.query(`insert into app.notification_outbox (user_id, kind) values ($1, 'test.a'), ($2, 'test.b')`, [userA, userB]);

  await withUser(db.apiDb, userA, async (tx) => {
    t.same((await tx.selectFrom('app.sessions').select('user_id').execute()).map((r) => r.user_id), [userA]);
    t.same((await tx.selectFrom('app.refresh_tokens').select('user_id').execute()).map((r) => r.user_id), [userA]);
    t.same((await tx.selectFrom('app.notification_outbox').select('kind').execute()).map((r) => r.kind), ['test.a']);
    const revoked = await tx.updateTable('app.sessions').set({ revoked_at: new Date() }).where('id', '=', sessionB).executeTakeFirst();
    t.equal(revoked.numUpdatedRows, 0n, "user A cannot revoke user B's session");
  });
  // A shop context alone (no user) sees no one's sessions.
  await withShop(db.apiDb, shopA, async (tx) => {
    t.same(await tx.selectFrom('app.sessions').select('id').execute(), []);
    t.same(await tx.selectFrom('app.refresh_tokens').select('id').execute(), []);
  });
  await t.rejects(
    withUser(db.apiDb, userA, (tx) => tx.insertInto('app.sessions').values({ user_id: userB, expires_at: expires }).execute()),
    { code: '42501' },
    'a session cannot be created for another user',
  );
});

t.test("staff can see each other's user rows but change only their own", async (t) => {
  const colleague = await createUser(db.admin, `${randomUUID()}@example.test`);
  await addMember(db.admin, shopA, colleague, 'member');
  await withShop(
    db.apiDb,
    shopA,
    async (tx) => {
      const visible = await tx.selectFrom('app.users').select('id').where('id', '=', colleague).execute();
      t.equal(visible.length, 1, 'a colleague is visible');
    },
    userA,
  );
  await t.rejects(
    withShop(db.apiDb, shopA, (tx) => tx.updateTable('app.users').set({ email: 'taken-over@example.test' }).where('id', '=', colleague).execute(), userA),
    { code: '42501' },
    "changing a colleague's e-mail (an account takeover) is refused",
  );
  const { rows } = await db.admin.query('select email from app.users where id = $1', [colleague]);
  t.not(rows[0].email, 'taken-over@example.test');
});
