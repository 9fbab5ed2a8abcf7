// Workflow: a delivery report from the provider, after its signature has been checked.
// Several transactions on the pool: find the message's shop (no tenant), then apply the
// report in one transaction on that shop together with remembering its event id, or keep
// it for later when the message is not recorded yet.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop } from '../../db/with-shop.js';
import { applyEarlyDeliveryReports, storeEarlyDeliveryReport } from './early-reports.js';
import { applyReportInShop } from './report-in-shop.js';
import type { DeliveryReport, WebhookOutcome } from './schemas.js';

/**
 * A delivery report updates its message and recipient (applyReportInShop). A report that
 * arrives before its message is recorded is kept and applied when the row is written
 * (applyEarlyDeliveryReports), never dropped.
 */
export async function applyDeliveryReport(db: Db, report: DeliveryReport): Promise<WebhookOutcome> {
  const shopId = await shopOfMessage(db, report.messageId);
  if (shopId) return withShop(db, shopId, (tx) => applyReportInShop(tx, shopId, report));
  if (!(await storeEarlyDeliveryReport(db, report))) return 'duplicate';
  // The batch applies stored reports after its recording commits; if that commit landed
  // between the first look and the store above, the batch did not see this report: look
  // again, so one of the two always does.
  const nowKnown = await shopOfMessage(db, report.messageId);
  if (nowKnown) await applyEarlyDeliveryReports(db, nowKnown, [report.messageId]);
  return 'stored';
}

async function shopOfMessage(db: Db, providerMessageId: string): Promise<string | null> {
  return withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ shop_id: string | null }>`select app_private.shop_for_provider_message(${providerMessageId}) as shop_id`.execute(tx);
    return rows[0]?.shop_id ?? null;
  });
}
