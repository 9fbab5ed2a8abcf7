// Money in the tests: a ledger entry applied as the code under test applies it (buying credits
// is a 'purchase' entry: no route credits a wallet), the wallet as it reads, and the invariant
// every wallet and send test ends with: the ledger replays to the wallet (sum of balance
// effects = balance; reserve − release − debit = reserved).
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withShop } from '../../src/db/with-shop.js';
import type { Db } from '../../src/db/kysely.js';
import { applyCreditEntry, getWallet } from '../../src/modules/wallet/service.js';

interface Assert {
  same(found: unknown, wanted: unknown, message: string): unknown;
}

export type EntryKind = 'purchase' | 'reserve' | 'release' | 'debit' | 'refund' | 'adjustment';

/** One ledger entry in the shop, under `key` (a fresh one unless given). */
export function creditEntry(db: { apiDb: Db }, shopId: string, kind: EntryKind, credits: number, key: string = randomUUID()) {
  return withShop(db.apiDb, shopId, (tx) => applyCreditEntry(tx, { shopId, kind, credits, idempotencyKey: key }));
}

/** Credits bought by the shop: what a shop needs before it can send. */
export async function buyCredits(db: { apiDb: Db }, shopId: string, credits: number): Promise<void> {
  await creditEntry(db, shopId, 'purchase', credits);
}

/** The shop's wallet, read as the API reads it. */
export function walletOf(db: { apiDb: Db }, shopId: string) {
  return withShop(db.apiDb, shopId, (tx) => getWallet(tx, shopId));
}

export async function ledgerMatchesWallet(db: { admin: pg.Pool; apiDb: Db }, t: Assert, shopId: string): Promise<void> {
  const { rows } = await db.admin.query(
    `select coalesce(sum(credits) filter (where kind in ('purchase','refund','adjustment','debit','refund_reversal')), 0)::int as balance,
            coalesce(sum(case kind when 'reserve' then credits when 'release' then -credits when 'debit' then credits else 0 end), 0)::int as reserved
       from app.credit_ledger where shop_id = $1`,
    [shopId],
  );
  const w = await walletOf(db, shopId);
  t.same({ balance: rows[0].balance, reserved: rows[0].reserved }, { balance: w.balance, reserved: w.reserved }, 'the ledger sums to the wallet');
}
