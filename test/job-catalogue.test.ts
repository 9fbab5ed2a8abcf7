// The job catalogue is the one place that names a task, its payload and its key: every task
// file is in it, every job is added through it, and no job key is built anywhere else.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseCrontab } from 'graphile-worker';
import { CRON_TASKS, jobKey, parseJob, parseSystemJob, SHOP_JOBS, SYSTEM_JOBS } from '../src/jobs/catalogue.js';

const root = path.resolve(import.meta.dirname, '..');
async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(root, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

t.test('every task file is in the catalogue, as a shop job, a system job or a cron task, and nothing else is', async (t) => {
  const tasks = (await readdir(path.join(root, 'tasks'))).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
  t.same(tasks, [...Object.keys(SHOP_JOBS), ...Object.keys(SYSTEM_JOBS), ...CRON_TASKS].sort());
  // A system job's key is built by the one SQL function the catalogue names, and nowhere else in the migrations.
  const migrations = await Promise.all((await readdir(path.join(root, 'migrations'))).filter((f) => f.endsWith('.sql')).map((f) => readFile(path.join(root, 'migrations', f), 'utf8')));
  for (const [name, definition] of Object.entries(SYSTEM_JOBS)) {
    const adders = migrations.join('\n').match(new RegExp(`graphile_worker\\.add_job\\('${name}'`, 'g')) ?? [];
    t.equal(adders.length, 1, `${name} is added in one SQL place`);
    t.ok(migrations.some((m) => m.includes(`function ${definition.addedBy}(`)), `${definition.addedBy} exists`);
  }
  const crontab = parseCrontab(await readFile(path.join(root, 'crontab'), 'utf8'));
  t.ok(crontab.length > 0);
  for (const item of crontab) t.ok((CRON_TASKS as readonly string[]).includes(item.task), `crontab runs ${item.task}, a cron task of the catalogue`);
});

t.test('jobs are added only through the catalogue, and job keys are built only there', async (t) => {
  const files = [...(await sourceFiles('src')), ...(await sourceFiles('tasks'))];
  for (const file of files) {
    if (file === path.join('src', 'jobs', 'catalogue.ts') || file === path.join('src', 'db', 'add-job.ts')) continue;
    const text = await readFile(path.join(root, file), 'utf8');
    t.notMatch(text, /\baddJob\(/, `${file} adds no job except through addShopJob`);
    t.notMatch(text, /:dispatch`|:batch:\$\{|`import:\$\{/, `${file} builds no job key`);
  }
});

t.test('a task refuses a payload the catalogue does not describe', async (t) => {
  const shopId = '00000000-0000-4000-8000-000000000001';
  const campaignId = '00000000-0000-4000-8000-000000000002';
  t.same(parseJob('campaign_dispatch', { shopId, campaignId }), { shopId, campaignId });
  t.throws(() => parseJob('campaign_dispatch', { shopId }), /campaign_dispatch: invalid payload/);
  t.throws(() => parseJob('sms_send_batch', { shopId, campaignId, batchId: '1; drop table' }), /invalid payload/);
  t.equal(jobKey('sms_send_batch', { shopId, campaignId, batchId: '7' }), `campaign:${campaignId}:batch:7`);
  t.equal(jobKey('campaign_dispatch', { shopId, campaignId }), `campaign:${campaignId}:dispatch`);
  t.equal(jobKey('shopify_consent_push', { shopId, contactId: campaignId }), `contact:${campaignId}:shopify-consent`);
  t.throws(() => parseJob('shopify_consent_push', { shopId, contactId: 'not-a-uuid' }), /invalid payload/);
  t.same(parseSystemJob('stripe_event_apply', { eventId: 'evt_123' }), { eventId: 'evt_123' });
  t.throws(() => parseSystemJob('stripe_event_apply', { eventId: "evt_1'; drop" }), /invalid payload/);
});
