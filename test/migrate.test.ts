// The migration runner: concurrent starters, recorded checksums, one transaction per file.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ensureDatabase, ROLES, urlForRole } from '../src/db/bootstrap.js';
import { migrate, readMigrations } from '../src/db/migrate.js';
import { testCluster } from './helpers/cluster.js';

const cluster = await testCluster();

async function emptyDatabase(): Promise<{ ownerUrl: string; adminUrl: string }> {
  const name = `pigeon_migrate_${randomBytes(5).toString('hex')}`;
  await ensureDatabase(cluster.adminUrl, name);
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: cluster.adminUrl });
    await c.connect();
    await c.query(`drop database if exists ${c.escapeIdentifier(name)} with (force)`);
    await c.end();
  });
  const admin = new URL(cluster.adminUrl);
  return {
    ownerUrl: urlForRole(cluster.adminUrl, ROLES.owner, cluster.passwords.owner, name),
    adminUrl: urlForRole(cluster.adminUrl, admin.username, decodeURIComponent(admin.password), name),
  };
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

t.test('two migrators started at once: one waits, neither fails, the schema is applied once', async (t) => {
  const { ownerUrl } = await emptyDatabase();
  const files = await readMigrations();
  const [first, second] = await Promise.all([migrate(ownerUrl), migrate(ownerUrl)]);
  const applied = [first!.applied.length, second!.applied.length].sort();
  t.same(applied, [0, files.length], 'one applied everything, the other found nothing left');
  const rows = await query<{ id: number; n: number }>(ownerUrl, 'select id, count(*)::int as n from pigeon_migrations.applied group by id order by id');
  t.same(rows.map((r) => r.id), files.map((f) => f.id));
  t.ok(rows.every((r) => r.n === 1), 'each migration recorded once');
});

t.test('an applied migration that was edited is refused', async (t) => {
  const { ownerUrl, adminUrl } = await emptyDatabase();
  await migrate(ownerUrl);
  // Equivalent to editing the file after it ran: the recorded checksum no longer matches.
  await query(adminUrl, `update pigeon_migrations.applied set checksum = repeat('0', 64) where id = 1`);
  await t.rejects(migrate(ownerUrl), { name: 'MigrationError', message: /0001_foundation\.sql was edited/ });
});

t.test('objects are owned by pigeon_owner even when a superuser migrates', async (t) => {
  const { adminUrl } = await emptyDatabase();
  await migrate(adminUrl);
  const rows = await query<{ owner: string }>(
    adminUrl,
    `select distinct pg_get_userbyid(c.relowner) as owner from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('app', 'app_private', 'pigeon_migrations')`,
  );
  t.same(rows.map((r) => r.owner), ['pigeon_owner']);
  const gw = await query<{ owner: string }>(adminUrl, `select pg_get_userbyid(nspowner) as owner from pg_namespace where nspname = 'graphile_worker'`);
  t.same(gw.map((r) => r.owner), ['pigeon_worker'], 'graphile-worker schema belongs to the worker role');
  const second = await migrate(adminUrl);
  t.same(second.applied, [], 'running again applies nothing');
});
