// `npm test`: with DATABASE_URL (a superuser URL) the tests use that server; without it,
// an embedded Postgres is started for the run and removed afterwards. Then tap runs.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { inheritedEnv, loadTestSettings } from '../src/config.js';
import { ensureRoles } from '../src/db/bootstrap.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../src/db/embedded.js';
import { prepareTemplate, randomPasswords } from '../test/helpers/cluster.js';
import { freePort } from '../test/helpers/free-port.js';

async function main(): Promise<number> {
  const settings = loadTestSettings();
  let embedded: EmbeddedPostgres | undefined;
  let dataDir: string | undefined;
  let adminUrl = settings.databaseUrl;
  const started = Date.now();
  if (!adminUrl) {
    dataDir = path.resolve('.data', `test-postgres-${process.pid}`);
    await rm(dataDir, { recursive: true, force: true });
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: await freePort(),
      superuserPassword: randomBytes(18).toString('base64url'),
    });
    adminUrl = embedded.superuserUrl;
    console.log(`# embedded Postgres ready in ${Date.now() - started} ms`);
  } else {
    console.log('# using the database server in DATABASE_URL');
  }
  try {
    const passwords = randomPasswords();
    await ensureRoles(adminUrl, passwords);
    const template = await prepareTemplate(adminUrl, passwords);
    const tapArgs = process.argv.slice(2);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, [path.resolve('node_modules/tap/dist/esm/run.mjs'), ...tapArgs], {
        stdio: 'inherit',
        env: inheritedEnv({
          NODE_ENV: 'test',
          PIGEON_TEST_ADMIN_URL: adminUrl,
          PIGEON_TEST_TEMPLATE: template,
          PIGEON_TEST_ROLE_PASSWORDS: JSON.stringify(passwords),
        }),
      });
      child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
    });
    return code;
  } finally {
    if (embedded) await embedded.stop().catch(() => {});
    if (dataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => {});
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
