// The dispatch step of a campaign: walks its pending recipients by id (never all in
// memory) and adds send-batch jobs, keeping at most DISPATCH_WINDOW batches pending per
// campaign. Each finished batch asks for another dispatch, so a million-recipient campaign
// has a few jobs in the queue at any time and another shop's small campaign, added later,
// runs after those few instead of after thousands (graphile-worker takes jobs in order).
// When nothing is pending any more, the campaign is finished and the rest of its
// reservation goes back to the wallet. Safe to run any number of times.
import { sql } from 'kysely';
import { addShopJob } from '../../jobs/catalogue.js';
import type { Db } from '../../db/kysely.js';
import { withShop, type Tx } from '../../db/with-shop.js';
import { recordAuditEvent } from '../audit/service.js';
import { releaseRemainingReservation } from './reservation.js';
import { transition } from './state.js';

export const BATCH_SIZE = 500;
// Twice the default worker concurrency: a worker that finishes a batch finds the next one
// already queued instead of idling until the dispatch it asked for has run (bench:send).
export const DISPATCH_WINDOW = 8;

export type DispatchOutcome = { state: 'not_sending' } | { state: 'dispatching'; added: number; pending: number } | { state: 'finished'; status: 'sent' | 'failed' };

/** Asks for a dispatch of the campaign (replacing a pending request: one is enough). */
export async function requestDispatch(tx: Tx, shopId: string, campaignId: string, runAt?: Date): Promise<void> {
  await addShopJob(tx, 'campaign_dispatch', { shopId, campaignId }, runAt ? { runAt } : {});
}

export async function dispatchCampaign(db: Db, shopId: string, campaignId: string, opts: { batchSize?: number; window?: number } = {}): Promise<DispatchOutcome> {
  const batchSize = opts.batchSize ?? BATCH_SIZE;
  const window = opts.window ?? DISPATCH_WINDOW;
  return withShop(db, shopId, async (tx) => {
    const campaign = await tx
      .selectFrom('app.campaigns')
      .select(['status', 'dispatch_cursor'])
      .where('shop_id', '=', shopId)
      .where('id', '=', campaignId)
      .forUpdate()
      .executeTakeFirst();
    if (!campaign) return { state: 'not_sending' } as const;
    if (campaign.status === 'scheduled' || campaign.status === 'queued') {
      await transition(tx, shopId, campaignId, 'sending', { started_at: new Date() }, [campaign.status]);
    } else if (campaign.status !== 'sending') {
      return { state: 'not_sending' } as const;
    }

    const { rows: pendingRows } = await sql<{ n: string }>`
      select count(*) as n from app.campaign_batches where shop_id = ${shopId} and campaign_id = ${campaignId} and status = 'pending'`.execute(tx);
    let pending = Number(pendingRows[0]?.n ?? 0);
    let cursor = campaign.dispatch_cursor;
    let added = 0;
    while (pending < window) {
      // The next block of recipients still to send, by key.
      const { rows } = await sql<{ first: string | null; last: string | null }>`
        select min(id) as first, max(id) as last from (
          select id from app.campaign_recipients
           where shop_id = ${shopId} and campaign_id = ${campaignId} and id > ${cursor} and status in ('queued', 'sending')
           order by id limit ${batchSize}) block`.execute(tx);
      const block = rows[0];
      if (!block?.first || !block.last) break;
      const batch = await tx
        .insertInto('app.campaign_batches')
        .values({ shop_id: shopId, campaign_id: campaignId, first_recipient_id: block.first, last_recipient_id: block.last })
        .returning('id')
        .executeTakeFirstOrThrow();
      await addShopJob(tx, 'sms_send_batch', { shopId, campaignId, batchId: String(batch.id) });
      cursor = block.last;
      pending++;
      added++;
    }
    if (added > 0) {
      await tx.updateTable('app.campaigns').set({ dispatch_cursor: cursor }).where('shop_id', '=', shopId).where('id', '=', campaignId).execute();
    }
    if (pending > 0) return { state: 'dispatching', added, pending } as const;

    // Nothing pending and nothing left beyond the cursor: the campaign is done, unless a
    // recipient below the cursor is still waiting (a batch that gave up): then start over.
    const { rows: waiting } = await sql<{ n: string }>`
      select count(*) as n from app.campaign_recipients
       where shop_id = ${shopId} and campaign_id = ${campaignId} and status in ('queued', 'sending')`.execute(tx);
    if (Number(waiting[0]?.n ?? 0) > 0) {
      await tx.updateTable('app.campaigns').set({ dispatch_cursor: 0 }).where('shop_id', '=', shopId).where('id', '=', campaignId).execute();
      await requestDispatch(tx, shopId, campaignId);
      return { state: 'dispatching', added: 0, pending: 0 } as const;
    }
    return finishCampaign(tx, shopId, campaignId);
  });
}

/** Sent when anything went out (or everyone was skipped), failed when every send failed. */
async function finishCampaign(tx: Tx, shopId: string, campaignId: string): Promise<DispatchOutcome> {
  const { rows } = await sql<{ sent: string; failed: string }>`
    select count(*) filter (where status in ('sent', 'delivered')) as sent, count(*) filter (where status = 'failed') as failed
      from app.campaign_recipients where shop_id = ${shopId} and campaign_id = ${campaignId}`.execute(tx);
  const sent = Number(rows[0]?.sent ?? 0);
  const failed = Number(rows[0]?.failed ?? 0);
  const status = sent === 0 && failed > 0 ? 'failed' : 'sent';
  const moved = await transition(tx, shopId, campaignId, status, { finished_at: new Date(), ...(status === 'failed' ? { failure_reason: 'every message failed' } : {}) }, ['sending']);
  if (moved) {
    const released = await releaseRemainingReservation(tx, shopId, campaignId, `campaign ${status}`);
    await recordAuditEvent(tx, { shopId, action: `campaign.${status}`, resourceType: 'campaign', resourceId: campaignId, result: 'success', metadata: { sent, failed, creditsReleased: released } });
  }
  return { state: 'finished', status } as const;
}
