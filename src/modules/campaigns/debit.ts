// The campaign's side of a send batch's debit: what it spent now and the commitments that
// ended (sent or failed), so spent + committed never exceeds what it reserved. A retry
// that re-records recipients moves nothing (they are no longer `sending`).
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

export async function settleCampaignSpend(tx: Tx, shopId: string, campaignId: string, spentNow: number, settled: number): Promise<void> {
  if (spentNow === 0 && settled === 0) return;
  await sql`update app.campaigns set credits_spent = credits_spent + ${spentNow}, credits_committed = greatest(credits_committed - ${settled}, 0)
             where shop_id = ${shopId} and id = ${campaignId}`.execute(tx);
}
