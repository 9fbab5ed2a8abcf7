// Turns a superuser connection to a development server (embedded or local) into a
// migrated Pigeon database with the three roles, and the URL each process should use.
import { ensureDatabase, ensureRoles, ROLES, urlForRole, type RolePasswords } from './bootstrap.js';
import { migrate } from './migrate.js';

export interface RoleUrls {
  owner: string;
  api: string;
  worker: string;
}

export async function prepareLocalDatabase(
  superuserUrl: string,
  database: string,
  passwords: RolePasswords,
  log: (msg: string) => void = () => {},
): Promise<RoleUrls> {
  await ensureRoles(superuserUrl, passwords);
  if (await ensureDatabase(superuserUrl, database)) log(`created database ${database}`);
  const urls: RoleUrls = {
    owner: urlForRole(superuserUrl, ROLES.owner, passwords.owner, database),
    api: urlForRole(superuserUrl, ROLES.api, passwords.api, database),
    worker: urlForRole(superuserUrl, ROLES.worker, passwords.worker, database),
  };
  const result = await migrate(urls.owner, { log });
  log(`migrations: ${result.applied.length} applied, ${result.alreadyApplied} already current`);
  return urls;
}
