// Readiness: the database answers and has every migration on disk applied.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { readMigrations } from '../../db/migrate.js';

export type Readiness =
  | { ready: true; applied: number }
  | { ready: false; reason: 'unreachable'; error: unknown }
  | { ready: false; reason: 'behind'; applied: number | null; expected: number };

/** The highest migration id on disk (read once, at start). */
export async function latestMigrationOnDisk(): Promise<number> {
  const migrations = await readMigrations();
  return migrations[migrations.length - 1]?.id ?? 0;
}

export async function checkReadiness(db: Db, expected: number): Promise<Readiness> {
  let applied: number | null;
  try {
    const { rows } = await sql<{ id: number | null }>`select max(id) as id from pigeon_migrations.applied`.execute(db);
    applied = rows[0]?.id ?? null;
  } catch (error) {
    return { ready: false, reason: 'unreachable', error };
  }
  if (applied === null || applied < expected) return { ready: false, reason: 'behind', applied, expected };
  return { ready: true, applied };
}
