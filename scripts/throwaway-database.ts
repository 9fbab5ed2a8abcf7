// A throwaway embedded Postgres with the roles and a freshly migrated database, for the
// generators of files derived from the migrations (npm run db:schema, npm run db:types).
// Always the embedded server, never DATABASE_URL: the committed output must not depend on
// which server a developer happens to point at.
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { ensureDatabase, ensureRoles, ROLES, urlForRole } from '../src/db/bootstrap.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrate } from '../src/db/migrate.js';
import { freePort } from '../test/helpers/free-port.js';
import { randomPasswords } from '../test/helpers/cluster.js';

/** Runs `fn` with a superuser URL to a migrated database, then removes the server. */
export async function withMigratedDatabase<T>(fn: (adminUrl: string) => Promise<T>): Promise<T> {
  const dataDir = path.resolve('.data', `generate-postgres-${process.pid}`);
  await rm(dataDir, { recursive: true, force: true });
  const superuserPassword = randomBytes(18).toString('base64url');
  const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), superuserPassword });
  try {
    const passwords = randomPasswords();
    await ensureRoles(server.superuserUrl, passwords);
    await ensureDatabase(server.superuserUrl, 'pigeon');
    await migrate(urlForRole(server.superuserUrl, ROLES.owner, passwords.owner, 'pigeon'));
    return await fn(urlForRole(server.superuserUrl, 'postgres', superuserPassword, 'pigeon'));
  } finally {
    await server.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
}

export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
