// The test cluster: a superuser URL, the run's role passwords, and a migrated template
// database that every test file copies (CREATE DATABASE ... TEMPLATE: milliseconds).
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import { loadTestSettings } from '../../src/config.js';
import { ensureDatabase, ensureRoles, ROLES, urlForRole, type RolePasswords } from '../../src/db/bootstrap.js';
import { migrate, readMigrations } from '../../src/db/migrate.js';

export interface TestCluster {
  adminUrl: string;
  template: string;
  passwords: RolePasswords;
}

const TEMPLATE_LOCK_KEY = 7_265_419_002;

export function randomPasswords(): RolePasswords {
  const p = () => randomBytes(18).toString('base64url');
  return { owner: p(), api: p(), worker: p() };
}

async function templateName(): Promise<string> {
  const require = createRequire(import.meta.url);
  const gwVersion = (require('graphile-worker/package.json') as { version: string }).version;
  const hash = createHash('sha256');
  for (const m of await readMigrations()) hash.update(`${m.name}:${m.checksum}\n`);
  hash.update(`graphile-worker:${gwVersion}`);
  return `pigeon_template_${hash.digest('hex').slice(0, 16)}`;
}

/** Build (once per migration set) the template database; safe to call concurrently. */
export async function prepareTemplate(adminUrl: string, passwords: RolePasswords): Promise<string> {
  const name = await templateName();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('select pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) {
      // Built under another name and renamed when complete: a crash never leaves a half template.
      const building = `${name}_building`;
      await admin.query(`drop database if exists ${admin.escapeIdentifier(building)} with (force)`);
      await ensureDatabase(adminUrl, building);
      await migrate(urlForRole(adminUrl, ROLES.owner, passwords.owner, building));
      await admin.query(`alter database ${admin.escapeIdentifier(building)} rename to ${admin.escapeIdentifier(name)}`);
    }
    await admin.query('select pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
  } finally {
    await admin.end();
  }
  return name;
}

let cached: Promise<TestCluster> | undefined;

/**
 * Under `npm test`, scripts/test.ts has prepared everything and passes it down. A test file
 * run on its own (`npx tap test/x.test.ts` with DATABASE_URL set) prepares it itself.
 */
export function testCluster(): Promise<TestCluster> {
  cached ??= (async () => {
    const settings = loadTestSettings();
    if (settings.adminUrl && settings.templateDatabase && settings.rolePasswords) {
      return {
        adminUrl: settings.adminUrl,
        template: settings.templateDatabase,
        passwords: JSON.parse(settings.rolePasswords) as RolePasswords,
      };
    }
    if (!settings.databaseUrl) {
      throw new Error('Run the tests with `npm test` (which starts a database), or set DATABASE_URL to a superuser URL');
    }
    const passwords = randomPasswords();
    await ensureRoles(settings.databaseUrl, passwords);
    const template = await prepareTemplate(settings.databaseUrl, passwords);
    return { adminUrl: settings.databaseUrl, template, passwords };
  })();
  return cached;
}
