// The wallet, as the ways money goes wrong: an entry applied twice (in a row or at once),
// a key reused for another amount, spending what is not there, a shop crediting itself,
// another shop's ledger, and code writing the tables directly.
import t from 'tap';
declare namespace Tap {
  type Test = import('tap').Test;
}
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createTestDatabase } from './helpers/database.js';
import { creditEntry, ledgerMatchesWallet as ledgerInvariant, walletOf, type EntryKind } from './helpers/ledger.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';
import { inheritedEnv } from '../src/config.js';
import { withShop } from '../src/db/with-shop.js';
import { debitRecipients } from '../src/modules/wallet/service.js';
import { adjustWallet } from '../src/modules/wallet/adjust.js';

const db = await createTestDatabase(t, { apiPoolSize: 10 });
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const account = () => signUp(app);
const entry = (shopId: string, kind: EntryKind, credits: number, key?: string) => creditEntry(db, shopId, kind, credits, key);
const wallet = (shopId: string) => walletOf(db, shopId);

const ledgerMatchesWallet = (t: Tap.Test, shopId: string) => ledgerInvariant(db, t, shopId);

t.test('an entry with the same key applies once, in a row or concurrently', async (t) => {
  const { shopId } = await account();
  const key = randomUUID();
  const first = await entry(shopId, 'purchase', 100, key);
  const again = await entry(shopId, 'purchase', 100, key);
  t.equal(again.replayed, true);
  t.equal(again.entryId, first.entryId);
  const racing = randomUUID();
  const results = await Promise.all(Array.from({ length: 10 }, () => entry(shopId, 'purchase', 7, racing)));
  t.equal(results.filter((r) => !r.replayed).length, 1, 'exactly one of ten concurrent applications took effect');
  t.same(await wallet(shopId), { balance: 107, reserved: 0, available: 107 });
  await t.rejects(entry(shopId, 'purchase', 101, key), { code: 'PGIDM' }, 'the same key with another amount is refused');
  await ledgerMatchesWallet(t, shopId);
});

t.test('reserving more than is available changes nothing', async (t) => {
  const { shopId, headers } = await account();
  await entry(shopId, 'purchase', 50);
  await entry(shopId, 'reserve', 30);
  await t.rejects(entry(shopId, 'reserve', 21), { code: 'PGINS' });
  t.same(await wallet(shopId), { balance: 50, reserved: 30, available: 20 });
  await t.rejects(entry(shopId, 'adjustment', -25), { code: 'PGINS' }, 'an adjustment cannot take reserved credits');
  await entry(shopId, 'debit', 10);
  await entry(shopId, 'release', 20);
  t.same(await wallet(shopId), { balance: 40, reserved: 0, available: 40 });
  const res = await app.inject({ url: '/api/v1/wallet', headers });
  t.same(res.json(), { balance: 40, reserved: 0, available: 40 });
  await ledgerMatchesWallet(t, shopId);
});

t.test('100 concurrent reserves of 1 credit on a wallet of 50: exactly 50 succeed', async (t) => {
  const { shopId } = await account();
  await entry(shopId, 'purchase', 50);
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => entry(shopId, 'reserve', 1)));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 50);
  t.same(await wallet(shopId), { balance: 50, reserved: 50, available: 0 });
  await ledgerMatchesWallet(t, shopId);
});

t.test('a batch debit is one ledger entry per recipient and applies once', async (t) => {
  const { shopId } = await account();
  await entry(shopId, 'purchase', 20);
  await entry(shopId, 'reserve', 10);
  const campaignId = randomUUID();
  const batch = [{ recipientId: '1', credits: 2 }, { recipientId: '2', credits: 1 }, { recipientId: '3', credits: 3 }];
  t.equal(await withShop(db.apiDb, shopId, (tx) => debitRecipients(tx, campaignId, batch)), 6);
  t.equal(await withShop(db.apiDb, shopId, (tx) => debitRecipients(tx, campaignId, [...batch, { recipientId: '4', credits: 1 }])), 1, 'a retried batch debits only the new recipient');
  t.same(await wallet(shopId), { balance: 13, reserved: 3, available: 10 });
  const { rows } = await db.admin.query(`select balance_after::int, reserved_after::int from app.credit_ledger where shop_id = $1 and kind = 'debit' order by id`, [shopId]);
  t.same(rows.map((r) => [r.balance_after, r.reserved_after]), [[18, 8], [17, 7], [14, 4], [13, 3]], 'each entry records the wallet after it');
  await ledgerMatchesWallet(t, shopId);
});

t.test('the run-time roles cannot write the wallet or the ledger directly; the CHECKs hold even for a superuser', async (t) => {
  const { shopId } = await account();
  await entry(shopId, 'purchase', 5);
  for (const pool of [db.apiPool, db.workerPool]) {
    const client = await pool.connect();
    try {
      for (const statement of [
        `update app.wallets set balance = 1000000`,
        `insert into app.wallets (shop_id) values ('${randomUUID()}')`,
        `insert into app.credit_ledger (shop_id, kind, credits, balance_after, reserved_after, idempotency_key) values ('${shopId}', 'purchase', 1000, 1000, 0, 'x')`,
        `delete from app.credit_ledger`,
        `update app.credit_ledger set credits = 1000`,
      ]) {
        await client.query('begin');
        await client.query(`select set_config('app.shop_id', $1, true)`, [shopId]);
        await t.rejects(client.query(statement), { code: '42501' }, statement);
        await client.query('rollback');
      }
    } finally {
      client.release();
    }
  }
  await t.rejects(db.admin.query(`update app.wallets set balance = -1 where shop_id = $1`, [shopId]), { code: '23514' });
  await t.rejects(db.admin.query(`update app.wallets set reserved = 6 where shop_id = $1`, [shopId]), { code: '23514' });
});

t.test("a shop cannot see another shop's ledger, and no route credits a wallet", async (t) => {
  const a = await account();
  const b = await account();
  await entry(a.shopId, 'purchase', 99);
  const theirs = await app.inject({ url: '/api/v1/wallet/transactions', headers: b.headers });
  t.same(theirs.json().items, []);
  t.same((await app.inject({ url: '/api/v1/wallet', headers: b.headers })).json(), { balance: 0, reserved: 0, available: 0 });
  const mine = await app.inject({ url: '/api/v1/wallet/transactions', headers: a.headers });
  t.same(mine.json().items.map((e: { kind: string; credits: number }) => [e.kind, e.credits]), [['purchase', 99]]);
  for (const method of ['POST', 'PUT', 'PATCH'] as const) {
    for (const url of ['/api/v1/wallet', '/api/v1/wallet/transactions', '/api/v1/wallet/adjust']) {
      const res = await app.inject({ method, url, headers: b.headers, payload: { credits: 1000 } });
      t.equal(res.statusCode, 404, `${method} ${url}`);
    }
  }
  t.same((await app.inject({ url: '/api/v1/wallet', headers: b.headers })).json().balance, 0);
});

t.test('wallet:adjust applies through the ledger, audited, once per key', async (t) => {
  const { shopId } = await account();
  const result = await adjustWallet(db.workerDb, { shopId, credits: 25, reason: 'goodwill for outage', idempotencyKey: 'ticket-42', operator: 'ops' });
  t.equal(result.replayed, false);
  const again = await adjustWallet(db.workerDb, { shopId, credits: 25, reason: 'goodwill for outage', idempotencyKey: 'ticket-42' });
  t.equal(again.replayed, true);
  t.equal((await wallet(shopId)).balance, 25);
  const { rows } = await db.admin.query(`select metadata from app.audit_events where shop_id = $1 and action = 'wallet.adjust'`, [shopId]);
  t.equal(rows.length, 1);
  t.match(rows[0].metadata, { credits: 25, reason: 'goodwill for outage', operator: 'ops' });

  // The command itself, as an operator runs it.
  const output = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import=tsx', 'src/cli.ts', 'wallet:adjust', '--shop', shopId, '--credits', '-5', '--reason', 'correction'], {
      env: inheritedEnv({ DATABASE_URL: db.workerUrl, NODE_ENV: 'test' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code, out }));
  });
  t.equal(output.code, 0, output.out);
  t.match(JSON.parse(output.out.trim().split('\n').pop()!), { replayed: false, balance: 20 });
  await ledgerMatchesWallet(t, shopId);
});
