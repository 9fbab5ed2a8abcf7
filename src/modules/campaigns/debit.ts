// The send batch's debit: ledger entries per recipient through the wallet, and the
// campaign's spent counter moved by what was debited now (so a retry adds nothing).
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { debitRecipients as debitLedger } from '../wallet/service.js';

export async function debitRecipients(tx: Tx, shopId: string, campaignId: string, entries: Array<{ recipientId: string; credits: number }>): Promise<number> {
  const debited = await debitLedger(tx, campaignId, entries);
  if (debited > 0) {
    await sql`update app.campaigns set credits_spent = credits_spent + ${debited} where shop_id = ${shopId} and id = ${campaignId}`.execute(tx);
  }
  return debited;
}
