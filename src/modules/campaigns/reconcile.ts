// The reconciler (cron, worker): campaigns that should be moving but have no job to move
// them get one, and reservations that outlived their campaign go back to the wallet.
// Idempotent: a second run right after the first finds nothing to do. Every repair is
// audited.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withShop } from '../../db/with-shop.js';
import { recordAuditEvent } from '../audit/service.js';
import { requestDispatch } from './dispatch.js';
import { releaseRemainingReservation } from './reservation.js';
import { transition } from './state.js';
import { addShopJob, campaignJobKeyPrefix, jobKey } from '../../jobs/catalogue.js';
import { giveUpBatch } from './send-batch-job.js';
import { releaseDeadWorkers } from '../../jobs/worker-heartbeat.js';

export interface ReconcileReport {
  campaigns: number;
  redispatched: number;
  batchesRequeued: number;
  batchesGivenUp: number;
  expired: number;
  released: number;
  deadWorkers: number;
}

/**
 * The jobs under a (shop-scoped) key prefix, from graphile-worker's public `jobs` view (the
 * worker role owns its schema): live ones, and those that used all their attempts and will
 * never run again (a running job on its last attempt is live: it is locked).
 */
async function jobsLike(db: Db, prefix: string): Promise<{ live: Set<string>; dead: Set<string> }> {
  const { rows } = await sql<{ key: string; dead: boolean }>`
    select key, (locked_at is null and attempts >= max_attempts) as dead from graphile_worker.jobs where key like ${`${prefix}%`}`.execute(db);
  return { live: new Set(rows.filter((r) => !r.dead).map((r) => r.key)), dead: new Set(rows.filter((r) => r.dead).map((r) => r.key)) };
}

export async function reconcileCampaigns(db: Db, now = new Date(), options: { heartbeatTimeoutSeconds?: number } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { campaigns: 0, redispatched: 0, batchesRequeued: 0, batchesGivenUp: 0, expired: 0, released: 0, deadWorkers: 0 };
  // Jobs held by dead workers first: a campaign whose batch a dead worker holds then moves again.
  report.deadWorkers = (await releaseDeadWorkers(db, options.heartbeatTimeoutSeconds ?? 60)).length;
  const { rows: candidates } = await sql<{ shop_id: string; id: string }>`select shop_id, id from app_private.campaigns_to_reconcile()`.execute(db);
  for (const { shop_id: shopId, id } of candidates) {
    report.campaigns++;
    const prefix = `${shopId}:${campaignJobKeyPrefix(id)}`;
    const { live: jobs, dead } = await jobsLike(db, prefix);
    // A batch whose job used every attempt is resolved, not left pending forever.
    for (const key of dead) {
      const batchId = /:batch:(\d+)$/.exec(key)?.[1];
      if (batchId && (await giveUpBatch(db, shopId, id, batchId, 'attempts_exhausted')) > 0) report.batchesGivenUp++;
    }
    await withShop(db, shopId, async (tx) => {
      const campaign = await tx
        .selectFrom('app.campaigns')
        .select(['status', 'scheduled_at', 'reservation_expires_at', 'credits_reserved', 'credits_spent', 'credits_released'])
        .where('shop_id', '=', shopId)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!campaign) return;
      const audit = (action: string, metadata: Record<string, unknown>) =>
        recordAuditEvent(tx, { shopId, action, resourceType: 'campaign', resourceId: id, result: 'success', metadata: { by: 'reconciler', ...metadata } });

      if (campaign.status === 'scheduled' || campaign.status === 'queued') {
        if (campaign.reservation_expires_at && new Date(campaign.reservation_expires_at) < now) {
          await transition(tx, shopId, id, 'cancelled', { cancelled_at: now, finished_at: now, failure_reason: 'reservation expired before sending' }, [campaign.status]);
          await sql`update app.campaign_recipients set status = 'cancelled', skip_reason = 'cancelled', updated_at = now()
                     where shop_id = ${shopId} and campaign_id = ${id} and status = 'queued'`.execute(tx);
          const released = await releaseRemainingReservation(tx, shopId, id, 'reservation expired');
          report.expired++;
          report.released += released;
          await audit('campaign.reservation_expired', { creditsReleased: released });
        } else if (!jobs.has(`${shopId}:${jobKey('campaign_dispatch', { shopId, campaignId: id })}`)) {
          await requestDispatch(tx, shopId, id, campaign.scheduled_at ? new Date(campaign.scheduled_at) : undefined);
          report.redispatched++;
          await audit('campaign.reconcile', { repaired: 'dispatch job missing' });
        }
        return;
      }
      if (campaign.status === 'sending') {
        const pending = await tx
          .selectFrom('app.campaign_batches')
          .select(['id'])
          .where('shop_id', '=', shopId)
          .where('campaign_id', '=', id)
          .where('status', '=', 'pending')
          .execute();
        let requeued = 0;
        for (const batch of pending) {
          if (jobs.has(`${shopId}:${jobKey('sms_send_batch', { shopId, campaignId: id, batchId: String(batch.id) })}`)) continue;
          await addShopJob(tx, 'sms_send_batch', { shopId, campaignId: id, batchId: String(batch.id) });
          requeued++;
        }
        report.batchesRequeued += requeued;
        const noJobs = jobs.size === 0;
        if (noJobs && pending.length === 0) {
          // Nothing is moving it: the dispatch finishes it or sends what is left.
          await requestDispatch(tx, shopId, id);
          report.redispatched++;
        }
        if (requeued > 0 || (noJobs && pending.length === 0)) await audit('campaign.reconcile', { batchesRequeued: requeued, redispatched: noJobs && pending.length === 0 });
        return;
      }
      // Finished campaigns: whatever is still reserved goes back (once: the ledger key is per campaign).
      const released = await releaseRemainingReservation(tx, shopId, id, `campaign ${campaign.status}`);
      if (released > 0) {
        report.released += released;
        await audit('campaign.reservation_released', { creditsReleased: released });
      }
    });
  }
  return report;
}
