// Builds the real app against a test database, with a config from an env-like object.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Env } from '../../src/config.js';
import type { Db } from '../../src/db/kysely.js';
import { createLogger } from '../../src/logger.js';
import { installResponseValidation } from './response-validation.js';

export const STRONG_SECRET = 'k3J9x-Qw8vN2pL5mR7tY1uZ4aB6cD0eF_gH';
// A fixed test key (32 bytes of 0x2a): test data only.
export const TEST_ENCRYPTION_KEYS = `test1:${Buffer.alloc(32, 42).toString('base64')}`;

export interface TestApp {
  app: FastifyInstance;
  /** Every log line the app wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  rawLogs: () => string;
}

export async function buildTestApp(
  t: { teardown(fn: () => unknown): void },
  db: Db,
  env: Env = {},
  register?: (app: FastifyInstance) => void | Promise<void>,
): Promise<TestApp> {
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    RATE_LIMIT_MAX: '100000',
    RATE_LIMIT_PREFILTER_MAX: '100000',
    JWT_SECRET: STRONG_SECRET,
    IP_HASH_SECRET: `${STRONG_SECRET}-ip`,
    ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    ...env,
  });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const app = await buildApp({ config, db, logger: createLogger(config.logLevel, sink) });
  // Every response is checked against the OpenAPI document (an undocumented one becomes a 500).
  const skipRoutesFromNowOn = installResponseValidation(app);
  // Routes a test adds (probes) are not the API's: not checked.
  skipRoutesFromNowOn();
  if (register) await register(app);
  await app.ready();
  t.teardown(() => app.close());
  return {
    app,
    get logs() {
      return lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    rawLogs: () => lines.join(''),
  };
}
