// The migration runner: concurrent starters, recorded checksums, one transaction per file.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureDatabase, ROLES, urlForRole } from '../src/db/bootstrap.js';
import { migrate, MIGRATIONS_DIR, readMigrations } from '../src/db/migrate.js';
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

t.test('a pending migration numbered below the highest applied one is refused, naming both, and nothing is applied', async (t) => {
  const { ownerUrl } = await emptyDatabase();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pigeon-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const file of await readdir(MIGRATIONS_DIR)) if (file.endsWith('.sql')) await copyFile(path.join(MIGRATIONS_DIR, file), path.join(dir, file));
  await migrate(ownerUrl, { migrationsDir: dir });
  const files = await readMigrations(dir);
  const highest = files[files.length - 1]!;
  // A branch written before `highest` shipped, merged after it: its number is free but low.
  const lateId = files.find((f, i) => i > 0 && f.id - files[i - 1]!.id > 1)!.id - 1;
  const late = `${String(lateId).padStart(4, '0')}_late_branch.sql`;
  await writeFile(path.join(dir, late), 'create table app.late_branch (id int);\n');
  // Also a correctly numbered one: it must not run either, the whole run stops first.
  const next = `${String(highest.id + 1).padStart(4, '0')}_after.sql`;
  await writeFile(path.join(dir, next), 'create table app.after_late (id int);\n');
  const escaped = (s: string) => s.replace(/[.]/g, '\\.');
  await t.rejects(migrate(ownerUrl, { migrationsDir: dir }), {
    name: 'MigrationError',
    message: new RegExp(`pending migration ${escaped(late)} is numbered below ${escaped(highest.name)}, which is already applied`),
  });
  const tables = await query<{ n: number }>(
    ownerUrl,
    `select count(*)::int as n from pg_class where relname in ('late_branch', 'after_late')`,
  );
  t.equal(tables[0]!.n, 0, 'neither the late file nor the one after it ran');
  const ledger = await query<{ n: number }>(ownerUrl, 'select count(*)::int as n from pigeon_migrations.applied');
  t.equal(ledger[0]!.n, files.length, 'the ledger is unchanged');

  // Renumbered above the highest applied one (what CONVENTIONS.md says to do), it applies.
  await rm(path.join(dir, late));
  await rm(path.join(dir, next));
  const renumbered = `${String(highest.id + 1).padStart(4, '0')}_late_branch.sql`;
  await writeFile(path.join(dir, renumbered), 'create table app.late_branch (id int);\n');
  const result = await migrate(ownerUrl, { migrationsDir: dir });
  t.same(result.applied, [renumbered]);
});
