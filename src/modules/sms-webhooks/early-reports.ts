// Workflow: delivery reports that arrive before their message is recorded (the provider
// can answer faster than the send batch commits). They are kept in a shop-less table and
// applied once the message exists: by the batch right after its recording commits, by the
// webhook when the message appeared meanwhile, or by the reconciler across shops. Never
// dropped; those whose message never appears are swept after 30 days (retention.ts).
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop } from '../../db/with-shop.js';
import { applyReportInShop } from './report-in-shop.js';
import type { DeliveryReport } from './schemas.js';

/** Keeps a report whose message is not known yet; false when its event id was seen already. */
export async function storeEarlyDeliveryReport(db: Db, report: DeliveryReport): Promise<boolean> {
  return withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ fresh: boolean }>`
      select app_private.store_early_delivery_report(${report.eventId}, ${report.messageId}, ${report.status},
        ${report.errorCode?.slice(0, 64) ?? null}, ${report.occurredAt ?? null}::timestamptz) as fresh`.execute(tx);
    return rows[0]?.fresh === true;
  });
}

/** Applies the stored early reports of these messages of the shop (each once); returns how many. */
export async function applyEarlyDeliveryReports(db: Db, shopId: string, providerMessageIds: string[]): Promise<number> {
  if (providerMessageIds.length === 0) return 0;
  return withShop(db, shopId, async (tx) => {
    const { rows } = await sql<{ event_id: string; provider_message_id: string; status: DeliveryReport['status']; error_code: string | null; occurred_at: Date | null }>`
      select event_id, provider_message_id, status, error_code, occurred_at from app_private.take_early_delivery_reports(${providerMessageIds}::text[])`.execute(tx);
    for (const r of rows) {
      await applyReportInShop(tx, shopId, {
        eventId: r.event_id,
        messageId: r.provider_message_id,
        status: r.status,
        errorCode: r.error_code ?? undefined,
        occurredAt: r.occurred_at ? new Date(r.occurred_at).toISOString() : undefined,
      });
    }
    return rows.length;
  });
}

/**
 * The reconciler's share: stored reports whose message has appeared since (a batch that
 * crashed right after recording). Reports whose message never appears are swept after 30
 * days (provider_events_sweep).
 */
export async function applyReadyEarlyReports(db: Db): Promise<{ applied: number }> {
  const { rows } = await sql<{ shop_id: string; provider_message_id: string }>`
    select shop_id, provider_message_id from app_private.early_delivery_reports_ready(5000)`.execute(db);
  const byShop = new Map<string, string[]>();
  for (const r of rows) byShop.set(r.shop_id, [...(byShop.get(r.shop_id) ?? []), r.provider_message_id]);
  let applied = 0;
  for (const [shopId, ids] of byShop) applied += await applyEarlyDeliveryReports(db, shopId, ids);
  return { applied };
}
