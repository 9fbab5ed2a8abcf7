// CSV import of N contacts (default 1,000,000: phone, email, first_name, last_name, tags)
// against a raw server-side COPY of the same rows into a table with the contacts table's
// indexes, in the same run. The import goes through the real HTTP upload (streamed
// multipart) and the real job code (processImport); both run in this process, so the peak
// RSS printed is API and worker together (an upper bound for either).
// Usage: npm run bench:import -- [rows=1000000]
import { createWriteStream, openAsBlob } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { createDb, createPool } from '../src/db/kysely.js';
import { createLogger } from '../src/logger.js';
import { processImport } from '../src/modules/imports/process.js';
import { benchConfig, benchDatabase } from './local-cluster.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const AREAS = ['212', '213', '312', '415', '617', '646', '718', '202', '305', '404'];
const phoneOf = (i: number) => `+1${AREAS[i % 10]}${200 + (Math.floor(i / 10) % 800)}${String(Math.floor(i / 8000)).padStart(4, '0')}`;

const file = path.join(os.tmpdir(), `pigeon-bench-import-${process.pid}.csv`);
{
  const out = createWriteStream(file);
  out.write('phone,email,first_name,last_name,tags\n');
  for (let i = 0; i < ROWS; i++) {
    if (!out.write(`${phoneOf(i)},user${i}@example.test,First${i % 5000},Last${i % 7000},${i % 3 === 0 ? 'vip' : 'new'}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  await chmod(file, 0o644);
}

const database = await benchDatabase('pigeon_bench_import');
const admin = new pg.Client({ connectionString: database.superuser });
await admin.connect();

// Raw COPY into a table shaped and indexed like app.contacts.
await admin.query(`
  create table public.bench_copy (
    shop_id uuid not null default '00000000-0000-4000-8000-000000000001', id uuid not null default gen_random_uuid(),
    phone_e164 text, email text, first_name text, last_name text, tags text,
    consent_state text not null default 'never', created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
    primary key (shop_id, id));
  create unique index on public.bench_copy (shop_id, phone_e164 text_pattern_ops);
  create index on public.bench_copy (shop_id, created_at, id);
  create index on public.bench_copy (shop_id, updated_at, id);
  create index on public.bench_copy (shop_id, consent_state);
  create index on public.bench_copy using gin ((string_to_array(tags, ',')));
  create index on public.bench_copy (shop_id, lower(first_name) text_pattern_ops);
  create index on public.bench_copy (shop_id, lower(last_name) text_pattern_ops);`);
let started = Date.now();
await admin.query(`copy public.bench_copy (phone_e164, email, first_name, last_name, tags) from '${file}' with (format csv, header true)`);
const copyMs = Date.now() - started;

const config = benchConfig(database, { IMPORT_MAX_BYTES: String(200 * 1024 * 1024), IMPORT_MAX_ROWS: String(ROWS) });
const apiDb = createDb(createPool({ connectionString: database.api, poolSize: 4, applicationName: 'bench-api', pipeline: true }));
const workerDb = createDb(createPool({ connectionString: database.worker, poolSize: 4, applicationName: 'bench-worker' }));
const app = await buildApp({ config, db: apiDb, logger: createLogger('warn') });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
const signup = await fetch(`${base}/api/v1/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.test', password: 'correct horse battery staple', shopName: 'Bench' }) });
const { accessToken, shop } = (await signup.json()) as { accessToken: string; shop: { id: string } };

let peakRss = process.memoryUsage().rss;
const rssBefore = peakRss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

started = Date.now();
const form = new FormData();
form.append('file', await openAsBlob(file, { type: 'text/csv' }), 'contacts.csv');
const uploaded = await fetch(`${base}/api/v1/contacts/imports`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` }, body: form });
if (uploaded.status !== 202) throw new Error(`upload failed: ${uploaded.status} ${await uploaded.text()}`);
const { id } = (await uploaded.json()) as { id: string };
const uploadMs = Date.now() - started;
started = Date.now();
await processImport(workerDb, shop.id, id, { maxRows: ROWS });
const processMs = Date.now() - started;
clearInterval(sampler);

const { rows } = await admin.query(`select status, inserted, failed, skipped from app.contact_imports where id = $1`, [id]);
await app.close();
await apiDb.destroy();
await workerDb.destroy();
await admin.end();
await database.close();
await rm(file, { force: true });

const importMs = uploadMs + processMs;
console.log(
  JSON.stringify(
    {
      benchmark: 'contact-import',
      rows: ROWS,
      rawCopyMs: copyMs,
      uploadMs,
      processMs,
      importMs,
      ratioToCopy: Number((importMs / copyMs).toFixed(2)),
      rowsPerSecond: Math.round(ROWS / (importMs / 1000)),
      rssBeforeMb: Math.round(rssBefore / 1024 / 1024),
      peakRssMb: Math.round(peakRss / 1024 / 1024),
      result: rows[0],
    },
    null,
    2,
  ),
);
