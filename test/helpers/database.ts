// A fresh database per test file, copied from the migrated template, with URLs for each
// role and ready Kysely instances for the API and worker roles.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadTestSettings } from '../../src/config.js';
import { ensureDatabase, ROLES, urlForRole } from '../../src/db/bootstrap.js';
import { createDb, createPool, type Db } from '../../src/db/kysely.js';
import { testCluster } from './cluster.js';

export interface TestDatabase {
  name: string;
  adminUrl: string;
  ownerUrl: string;
  apiUrl: string;
  workerUrl: string;
  /** Superuser connection to this database: for arranging fixtures across shops only. */
  admin: pg.Pool;
  apiPool: pg.Pool;
  apiDb: Db;
  workerPool: pg.Pool;
  workerDb: Db;
  close(): Promise<void>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function createTestDatabase(t: Teardown, options: { apiPoolSize?: number } = {}): Promise<TestDatabase> {
  const cluster = await testCluster();
  const name = `pigeon_test_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(cluster.adminUrl, name, cluster.template);
  const adminUrl = urlForRole(cluster.adminUrl, new URL(cluster.adminUrl).username, decodeURIComponent(new URL(cluster.adminUrl).password), name);
  const ownerUrl = urlForRole(cluster.adminUrl, ROLES.owner, cluster.passwords.owner, name);
  const apiUrl = urlForRole(cluster.adminUrl, ROLES.api, cluster.passwords.api, name);
  const workerUrl = urlForRole(cluster.adminUrl, ROLES.worker, cluster.passwords.worker, name);
  const admin = new pg.Pool({ connectionString: adminUrl, max: 2 });
  // Pipelined like the API's pool (src/server.ts), so the tests exercise that path.
  const apiPool = createPool({ connectionString: apiUrl, poolSize: options.apiPoolSize ?? 5, applicationName: 'pigeon-test-api', pipeline: true });
  const workerPool = createPool({ connectionString: workerUrl, poolSize: 5, applicationName: 'pigeon-test-worker' });
  const apiDb = createDb(apiPool);
  const workerDb = createDb(workerPool);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await apiDb.destroy().catch(() => {});
    await workerDb.destroy().catch(() => {});
    // Kysely ends a pool only if it used it; end the rest so DROP DATABASE kills nothing live.
    for (const pool of [apiPool, workerPool]) if (!pool.ended) await pool.end().catch(() => {});
    await admin.end().catch(() => {});
    if (!loadTestSettings().keepDatabases) {
      const root = new pg.Client({ connectionString: cluster.adminUrl });
      await root.connect();
      try {
        // Wait (bounded) for this file's own connections to finish closing: FORCE would
        // otherwise kill one mid-way through its goodbye, and its client would report the
        // 57P01 as an error of the test file.
        for (let i = 0; i < 100; i++) {
          const { rows } = await root.query(`select count(*)::int as n from pg_stat_activity where datname = $1`, [name]);
          if (rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await root.query(`drop database if exists ${root.escapeIdentifier(name)} with (force)`);
      } finally {
        await root.end();
      }
    }
  };
  t.teardown(close);
  return { name, adminUrl, ownerUrl, apiUrl, workerUrl, admin, apiPool, apiDb, workerPool, workerDb, close };
}
