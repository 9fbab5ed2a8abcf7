// CSV import of N contacts (default 1,000,000: phone, email, first_name, last_name, tags)
// against a raw server-side COPY of the same rows into a table with the contacts table's
// indexes, in the same run. The import goes through the real processes: the API takes the
// streamed multipart upload, the worker runs the contact_import job; the wall time is from
// the upload's first byte to the import's completion, and each process's peak RSS is its own.
// Usage: npm run bench:import -- [rows=1000000]
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, openAsBlob } from 'node:fs';
import { chmod, readFile, rm } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inheritedEnv } from '../src/config.js';
import { freePort } from '../test/helpers/free-port.js';
import { benchDatabase, benchEnv } from './local-cluster.js';

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

// The API and the worker run as the real processes (`npm run start:api`, `start:worker`),
// so each one's peak RSS is its own: the kernel's high-water mark (VmHWM) when it stops.
const apiPort = await freePort();
const env = benchEnv(database, { IMPORT_MAX_BYTES: String(200 * 1024 * 1024), IMPORT_MAX_ROWS: String(ROWS), HOST: '127.0.0.1', PORT: String(apiPort) });
// Started as `npm run start:api` / `start:worker` start them, with the node flags those
// scripts give (the worker's heap budget), but without npm's and tsx's wrapper processes in
// between, so that the pid measured is the process doing the work.
const scripts = (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
const spawnScript = (script: 'start:api' | 'start:worker', databaseUrl: string): ChildProcess => {
  const [tsx, ...args] = scripts[script]!.split(/\s+/);
  if (tsx !== 'tsx') throw new Error(`${script} no longer starts with tsx: update this benchmark`);
  return spawn(process.execPath, ['--import=tsx', ...args], { env: inheritedEnv({ ...env, DATABASE_URL: databaseUrl }), stdio: ['ignore', 'inherit', 'inherit'] });
};
const api = spawnScript('start:api', database.api);
const base = `http://127.0.0.1:${apiPort}`;
for (let tries = 0; ; tries++) {
  const up = await fetch(`${base}/health/live`).then((r) => r.ok, () => false);
  if (up) break;
  if (tries > 600) throw new Error('the API did not start');
  await new Promise((r) => setTimeout(r, 100));
}
const worker = spawnScript('start:worker', database.worker);
const signup = await fetch(`${base}/api/v1/auth/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'bench@example.test', password: 'correct horse battery staple', shopName: 'Bench' }) });
const { accessToken } = (await signup.json()) as { accessToken: string };

const rssMb = async (pid: number | undefined, field: 'VmRSS' | 'VmHWM') => {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024);
};
const apiRssBeforeMb = await rssMb(api.pid, 'VmRSS');
const workerRssBeforeMb = await rssMb(worker.pid, 'VmRSS');

started = Date.now();
const form = new FormData();
form.append('file', await openAsBlob(file, { type: 'text/csv' }), 'contacts.csv');
const uploaded = await fetch(`${base}/api/v1/contacts/imports`, { method: 'POST', headers: { authorization: `Bearer ${accessToken}` }, body: form });
if (uploaded.status !== 202) throw new Error(`upload failed: ${uploaded.status} ${await uploaded.text()}`);
const { id } = (await uploaded.json()) as { id: string };
const uploadMs = Date.now() - started;
started = Date.now();
let result: { status: string; inserted: number; failed: number; skipped: number };
for (;;) {
  const { rows } = await admin.query(`select status, inserted, failed, skipped from app.contact_imports where id = $1`, [id]);
  result = rows[0];
  if (result.status === 'completed' || result.status === 'failed') break;
  await new Promise((r) => setTimeout(r, 100));
}
const processMs = Date.now() - started;
const apiPeakRssMb = await rssMb(api.pid, 'VmHWM');
const workerPeakRssMb = await rssMb(worker.pid, 'VmHWM');
for (const child of [api, worker]) {
  child.kill('SIGTERM');
  await once(child, 'exit');
}
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
      apiRssBeforeMb,
      apiPeakRssMb,
      workerRssBeforeMb,
      workerPeakRssMb,
      result,
    },
    null,
    2,
  ),
);
