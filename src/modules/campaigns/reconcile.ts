// The reconciler (cron, worker): campaigns that should be moving but have no job to move
// them get one, and reservations that outlived their campaign go back to the wallet.
// Idempotent: a second run right after the first finds nothing to do. Every repair is
// audited.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { addJob } from '../../db/add-job.js';
import { withShop } from '../../db/with-shop.js';
import { recordAuditEvent } from '../audit/service.js';
import { requestDispatch } from './dispatch.js';
import { releaseRemainingReservation } from './service.js';
import { transition } from './state.js';

export interface ReconcileReport {
  campaigns: number;
  redispatched: number;
  batchesRequeued: number;
  expired: number;
  released: number;
}

/** The keys of the live jobs under a (shop-scoped) prefix. The worker owns graphile-worker's schema. */
async function liveJobsLike(db: Db, prefix: string): Promise<Set<string>> {
  const { rows } = await sql<{ key: string }>`select key from graphile_worker._private_jobs where key like ${`${prefix}%`}`.execute(db);
  return new Set(rows.map((r) => r.key));
}

export async function reconcileCampaigns(db: Db, now = new Date()): Promise<ReconcileReport> {
  const report: ReconcileReport = { campaigns: 0, redispatched: 0, batchesRequeued: 0, expired: 0, released: 0 };
  const { rows: candidates } = await sql<{ shop_id: string; id: string }>`select shop_id, id from app_private.campaigns_to_reconcile()`.execute(db);
  for (const { shop_id: shopId, id } of candidates) {
    report.campaigns++;
    const prefix = `${shopId}:campaign:${id}:`;
    const jobs = await liveJobsLike(db, prefix);
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
        } else if (!jobs.has(`${prefix}dispatch`)) {
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
          if (jobs.has(`${prefix}batch:${batch.id}`)) continue;
          await addJob(tx, 'sms_send_batch', { shopId, campaignId: id, batchId: String(batch.id) }, { jobKey: `campaign:${id}:batch:${batch.id}`, priority: 0 });
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
