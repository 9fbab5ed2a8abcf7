// Forward-only SQL migrations: a small runner, because none of the maintained tools does
// exactly what Pigeon needs together: one transaction per file, a cluster-wide advisory
// lock so that concurrent starters queue instead of racing, recorded checksums that refuse
// an edited migration, and running as the owner role (SET LOCAL ROLE) when connected as a
// superuser or DBA. See the commit that introduced this file for the comparison.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import { Logger, runMigrations as runGraphileWorkerMigrations } from 'graphile-worker';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
export const OWNER_ROLE = 'pigeon_owner';
export const WORKER_ROLE = 'pigeon_worker';
// A fixed, project-specific key: "pigeon migrations".
const MIGRATION_LOCK_KEY = 7_265_419_001;

export interface Migration {
  id: number;
  name: string;
  checksum: string;
  sql: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) throw new MigrationError(`migration file name must be NNNN_description.sql: ${file}`);
    const id = Number(match[1]);
    if (migrations.length > 0 && migrations[migrations.length - 1]!.id === id) {
      throw new MigrationError(`two migrations share number ${match[1]}`);
    }
    const sql = await readFile(path.join(dir, file), 'utf8');
    migrations.push({ id, name: file, checksum: checksumOf(sql), sql });
  }
  return migrations;
}

async function ensureLedger(client: pg.ClientBase): Promise<void> {
  await client.query(`
    create schema if not exists pigeon_migrations;
    create table if not exists pigeon_migrations.applied (
      id integer primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    );
  `);
}

/** Whether the connected user must SET ROLE to the owner (superuser / DBA connection). */
async function ownerRoleSwitch(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ current_user: string; can_become_owner: boolean }>(
    `select current_user,
            exists (select 1 from pg_roles where rolname = $1)
              and pg_has_role(current_user, $1, 'MEMBER') as can_become_owner`,
    [OWNER_ROLE],
  );
  const row = rows[0]!;
  if (row.current_user === OWNER_ROLE) return '';
  if (!row.can_become_owner) {
    throw new MigrationError(
      `connected as ${row.current_user}, which is neither ${OWNER_ROLE} nor allowed to become it; create the roles first (sql/roles.sql)`,
    );
  }
  return `set local role ${OWNER_ROLE};`;
}

/**
 * Apply every pending migration. Safe to run from several processes at once: the advisory
 * lock makes the others wait, and they then find nothing left to do.
 */
export async function migrate(
  connectionString: string,
  options: { log?: (msg: string) => void; migrationsDir?: string } = {},
): Promise<MigrateResult> {
  const log = options.log ?? (() => {});
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const migrations = await readMigrations(migrationsDir);
  const client = new pg.Client({ connectionString });
  await client.connect();
  const applied: string[] = [];
  let alreadyApplied = 0;
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const setRole = await ownerRoleSwitch(client);
      await client.query('begin');
      if (setRole) await client.query(setRole);
      await ensureLedger(client);
      await client.query('commit');

      const { rows } = await client.query<{ id: number; name: string; checksum: string }>(
        'select id, name, checksum from pigeon_migrations.applied order by id',
      );
      const done = new Map(rows.map((r) => [r.id, r]));
      for (const row of rows) {
        const file = migrations.find((m) => m.id === row.id);
        if (!file) throw new MigrationError(`applied migration ${row.name} is missing from ${migrationsDir}`);
        if (file.checksum !== row.checksum) {
          throw new MigrationError(
            `migration ${row.name} was edited after it was applied (checksum ${row.checksum.slice(0, 12)}… recorded, ${file.checksum.slice(0, 12)}… on disk); write a new migration instead`,
          );
        }
      }
      refuseOutOfOrder(migrations, rows);
      for (const migration of migrations) {
        if (done.has(migration.id)) {
          alreadyApplied++;
          continue;
        }
        await client.query('begin');
        try {
          if (setRole) await client.query(setRole);
          await client.query(migration.sql);
          // A migration may have switched roles itself; the ledger row is written as the owner.
          await client.query(`reset role; ${setRole}`);
          await client.query('insert into pigeon_migrations.applied (id, name, checksum) values ($1, $2, $3)', [
            migration.id,
            migration.name,
            migration.checksum,
          ]);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback');
          const message = error instanceof Error ? error.message : String(error);
          throw new MigrationError(`migration ${migration.name} failed: ${message}`);
        }
        applied.push(migration.name);
        log(`applied ${migration.name}`);
      }
      await migrateGraphileWorker(client, connectionString);
    } finally {
      await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
  return { applied, alreadyApplied };
}

/**
 * A pending migration numbered below the highest applied one was written against an older
 * schema than the one it would run on (typically a branch merged after a later migration
 * shipped): applying it silently would give this database a different history from a fresh
 * one. Refuse before applying anything; the fix is to renumber the NEW file above the
 * highest applied one (migrations/CONVENTIONS.md), never to renumber an applied one.
 */
function refuseOutOfOrder(migrations: Migration[], appliedRows: Array<{ id: number; name: string }>): void {
  const highest = appliedRows.reduce<{ id: number; name: string } | undefined>(
    (max, row) => (!max || row.id > max.id ? row : max),
    undefined,
  );
  if (!highest) return;
  const applied = new Set(appliedRows.map((r) => r.id));
  const late = migrations.filter((m) => !applied.has(m.id) && m.id < highest.id);
  if (late.length === 0) return;
  const names = late.map((m) => m.name).join(', ');
  throw new MigrationError(
    `pending migration ${names} is numbered below ${highest.name}, which is already applied; ` +
      `renumber it above ${String(highest.id).padStart(4, '0')} (never renumber an applied migration)`,
  );
}

/**
 * Install/upgrade graphile-worker's schema as pigeon_worker, its owner, so that the API can
 * add jobs before any worker has started. Runs under the caller's advisory lock.
 */
async function migrateGraphileWorker(client: pg.ClientBase, connectionString: string): Promise<void> {
  const { rows } = await client.query<{ is_worker: boolean }>(`select current_user = $1 as is_worker`, [WORKER_ROLE]);
  const pool = new pg.Pool({
    connectionString,
    max: 1,
    // Connect as the migrating user but act as the worker role for the whole session.
    ...(rows[0]!.is_worker ? {} : { options: `-c role=${WORKER_ROLE}` }),
  });
  pool.on('error', () => {});
  pool.on('connect', (c) => c.on('error', () => {}));
  try {
    await runGraphileWorkerMigrations({ pgPool: pool, logger: silentLogger });
  } finally {
    await pool.end();
  }
}

const silentLogger = new Logger(() => () => {});
