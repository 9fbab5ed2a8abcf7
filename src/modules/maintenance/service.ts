// Retention: applies each shop's retention setting to its data.
import type { Db } from '../../db/kysely.js';
import { addJob } from '../../db/add-job.js';
import { withShop } from '../../db/with-shop.js';
import { purgeAuditEventsBefore, recordAuditEvent } from '../audit/service.js';
import { getShopSettings, shopIdsForMaintenance } from '../shops/service.js';

export const MAINTENANCE_PRIORITY = 10;
const DAY_MS = 86_400_000;

/** Adds one retention job per shop; the job key makes a repeated sweep a no-op. */
export async function scheduleRetentionForAllShops(db: Db): Promise<number> {
  const shopIds = await shopIdsForMaintenance(db);
  for (const shopId of shopIds) {
    await withShop(db, shopId, (tx) =>
      addJob(tx, 'shop_retention_apply', { shopId }, {
        jobKey: 'shop_retention_apply', // scoped to the shop by app_private.add_job
        jobKeyMode: 'preserve_run_at',
        priority: MAINTENANCE_PRIORITY,
        maxAttempts: 5,
      }),
    );
  }
  return shopIds.length;
}

/** Safe to run again: it deletes what is older than the cut-off, then records what it did. */
export async function applyRetention(db: Db, shopId: string, now = new Date()): Promise<{ auditEventsPurged: number }> {
  return withShop(db, shopId, async (tx) => {
    const settings = await getShopSettings(tx, shopId);
    if (!settings) return { auditEventsPurged: 0 }; // the shop is gone
    const cutoff = new Date(now.getTime() - settings.retention_days * DAY_MS);
    const auditEventsPurged = await purgeAuditEventsBefore(tx, cutoff);
    await recordAuditEvent(tx, {
      shopId,
      action: 'retention.applied',
      result: 'success',
      metadata: { auditEventsPurged, retentionDays: settings.retention_days, cutoff: cutoff.toISOString() },
    });
    return { auditEventsPurged };
  });
}
