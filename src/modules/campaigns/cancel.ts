// Cancel: no further sends, and what is still reserved goes back to the wallet.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { audit } from '../audit/service.js';
import { getCampaign, notFound } from './drafts.js';
import { releaseRemainingReservation } from './reservation.js';
import type { Campaign } from './schemas.js';
import { transition } from './state.js';

/**
 * Cancel: no further sends (queued recipients become cancelled, the send task re-checks the
 * state before every batch) and what is still reserved goes back to the wallet.
 */
export async function cancelCampaign(tx: Tx, actor: Actor, id: string): Promise<Campaign> {
  const shopId = actor.shopId;
  const campaign = await tx.selectFrom('app.campaigns').select(['status']).where('shop_id', '=', shopId).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!campaign) throw notFound();
  if (!(await transition(tx, shopId, id, 'cancelled', { cancelled_at: new Date(), finished_at: new Date() }))) {
    throw new AppError(409, 'CAMPAIGN_FINISHED', `A ${campaign.status} campaign cannot be cancelled`);
  }
  await sql`
    update app.campaign_recipients set status = 'cancelled', skip_reason = 'cancelled', updated_at = now()
     where shop_id = ${shopId} and campaign_id = ${id} and status = 'queued'`.execute(tx);
  const released = await releaseRemainingReservation(tx, shopId, id, 'campaign cancelled');
  await audit(tx, actor, { action: 'campaign.cancel', resourceType: 'campaign', resourceId: id, result: 'success', metadata: { creditsReleased: released } });
  return (await getCampaign(tx, shopId, id))!;
}
