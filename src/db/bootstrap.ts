// Creates the cluster-level pieces that migrations cannot: the three roles and the
// database. Used by the embedded server and the test harness, connected as a superuser.
// In production a DBA does the same by hand with sql/roles.sql and real passwords.
import pg from 'pg';

export interface RolePasswords {
  owner: string;
  api: string;
  worker: string;
}

export const ROLES = { owner: 'pigeon_owner', api: 'pigeon_api', worker: 'pigeon_worker' } as const;
// Cluster-wide: serialises concurrent bootstraps (parallel test files, two starters).
const BOOTSTRAP_LOCK_KEY = 7_265_419_000;

function literal(client: pg.ClientBase, value: string): string {
  return client.escapeLiteral(value);
}

/** Create or update the roles (idempotent); passwords are (re)set every time. */
export async function ensureRoles(superuserUrl: string, passwords: RolePasswords): Promise<void> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [BOOTSTRAP_LOCK_KEY]);
    const roles: Array<[string, string]> = [
      [ROLES.owner, passwords.owner],
      [ROLES.api, passwords.api],
      [ROLES.worker, passwords.worker],
    ];
    for (const [role, password] of roles) {
      const { rowCount } = await client.query('select 1 from pg_roles where rolname = $1', [role]);
      const verb = rowCount ? 'alter' : 'create';
      await client.query(
        `${verb} role ${role} login nosuperuser nocreatedb nocreaterole nobypassrls noreplication password ${literal(client, password)}`,
      );
    }
    // The owner acts as the worker role only to create graphile-worker's schema for it.
    await client.query(`grant ${ROLES.worker} to ${ROLES.owner}`);
    await client.query('select pg_advisory_unlock($1)', [BOOTSTRAP_LOCK_KEY]);
  } finally {
    await client.end();
  }
}

/** Create the database, owned by the owner role, if it does not exist. */
export async function ensureDatabase(superuserUrl: string, database: string, template?: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: superuserUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount) return false;
    const name = client.escapeIdentifier(database);
    await client.query(
      `create database ${name} owner ${ROLES.owner}${template ? ` template ${client.escapeIdentifier(template)}` : ''}`,
    );
    await client.query(`revoke all on database ${name} from public`);
    await client.query(`grant connect, temporary on database ${name} to ${ROLES.api}, ${ROLES.worker}`);
    return true;
  } finally {
    await client.end();
  }
}

/** The same server and database, logged in as another role. */
export function urlForRole(baseUrl: string, role: string, password: string, database?: string): string {
  const url = new URL(baseUrl);
  url.username = role;
  url.password = password;
  if (database) url.pathname = `/${database}`;
  return url.toString();
}
