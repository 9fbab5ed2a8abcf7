// The money invariant every wallet and send test ends with: the ledger replays to the wallet
// (sum of balance effects = balance; reserve − release − debit = reserved).
import type pg from 'pg';
import { withShop } from '../../src/db/with-shop.js';
import type { Db } from '../../src/db/kysely.js';
import { getWallet } from '../../src/modules/wallet/service.js';

interface Assert {
  same(found: unknown, wanted: unknown, message: string): unknown;
}

export async function ledgerMatchesWallet(db: { admin: pg.Pool; apiDb: Db }, t: Assert, shopId: string): Promise<void> {
  const { rows } = await db.admin.query(
    `select coalesce(sum(credits) filter (where kind in ('purchase','refund','adjustment','debit','refund_reversal')), 0)::int as balance,
            coalesce(sum(case kind when 'reserve' then credits when 'release' then -credits when 'debit' then credits else 0 end), 0)::int as reserved
       from app.credit_ledger where shop_id = $1`,
    [shopId],
  );
  const w = await withShop(db.apiDb, shopId, (tx) => getWallet(tx, shopId));
  t.same({ balance: rows[0].balance, reserved: rows[0].reserved }, { balance: w.balance, reserved: w.reserved }, 'the ledger sums to the wallet');
}
