// Login latency with the configured argon2id parameters: p50/p99 of POST /api/v1/auth/login
// (sequential requests, so each measures one sign-in, not queueing), plus the raw verify.
import { randomUUID } from 'node:crypto';
import { buildApp } from '../src/app.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { hashPassword, verifyPassword } from '../src/lib/password-hash.js';
import { createLogger } from '../src/logger.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const RUNS = Number(process.argv[2] ?? 60);
const database = await benchDatabase('pigeon_bench_login');
const config = benchConfig(database);
const db = createDb(createPool({ connectionString: database.api, poolSize: 10, applicationName: 'bench-login', pipeline: true }));
const app = await buildApp({ config, db, logger: createLogger('warn') });
await app.ready();
const password = 'correct horse battery staple';
const signup = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email: 'login@example.test', password, shopName: 'Bench' } });
if (signup.statusCode !== 201) throw new Error(signup.body);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
async function timeIt(label: string, fn: (i: number) => Promise<void>) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = process.hrtime.bigint();
    await fn(i);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { label, p50Ms: Number(percentile(times, 50).toFixed(1)), p99Ms: Number(percentile(times, 99).toFixed(1)) };
}
// Each login from its own address: the per-IP login limit (5 per 15 minutes) is not measured here.
const ok = await timeIt('login (right password)', async (i) => {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: `10.1.${i >> 8}.${i & 255}`, payload: { email: 'login@example.test', password } });
  if (res.statusCode !== 200) throw new Error(res.body);
});
const unknown = await timeIt('login (unknown e-mail)', async (i) => {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: `10.2.${i >> 8}.${i & 255}`, payload: { email: `${randomUUID()}@example.test`, password } });
  if (res.statusCode !== 401) throw new Error(res.body);
});
const params = { memoryCost: config.argon2MemoryKib, timeCost: config.argon2TimeCost, parallelism: config.argon2Parallelism };
const hash = await hashPassword(password, params);
const verify = await timeIt('argon2id verify', async () => {
  await verifyPassword(hash, password);
});
await app.close();
await db.destroy();
await database.close();
console.log(JSON.stringify({ benchmark: 'login', runs: RUNS, argon2: params, results: [ok, unknown, verify] }, null, 2));
