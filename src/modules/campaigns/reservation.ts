// A campaign's reservation: reserved at enqueue (enqueue.ts), spent by the send batches
// (debit.ts), and what is left released once, when the campaign ends.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { applyCreditEntry } from '../wallet/service.js';

/** A reservation not spent by then is released by the reconciler. */
export const RESERVATION_TTL_HOURS = 72;

/**
 * Gives back what is left of the campaign's reservation (reserved − spent − released), once:
 * the ledger entry's idempotency key is per campaign.
 */
export async function releaseRemainingReservation(tx: Tx, shopId: string, id: string, reason: string): Promise<number> {
  const row = await tx
    .selectFrom('app.campaigns')
    .select(['credits_reserved', 'credits_spent', 'credits_released'])
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const remaining = Number(row.credits_reserved) - Number(row.credits_spent) - Number(row.credits_released);
  if (remaining <= 0) return 0;
  await applyCreditEntry(tx, { shopId, kind: 'release', credits: remaining, idempotencyKey: `campaign:${id}:release`, referenceType: 'campaign', referenceId: id, reason });
  await tx
    .updateTable('app.campaigns')
    .set({ credits_released: sql`credits_released + ${remaining}` as never })
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .execute();
  return remaining;
}
