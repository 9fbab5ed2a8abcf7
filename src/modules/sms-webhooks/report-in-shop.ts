// A delivery report applied in the caller's transaction on its shop (operation): the
// message and recipient take the final state, and a permanent failure refunds the
// message's credits exactly once (the refund's ledger key is the message; refunded_at too).
import type { Tx } from '../../db/with-shop.js';
import { applyCreditEntry } from '../wallet/service.js';
import { rememberProviderEvent } from './provider-events.js';
import type { DeliveryReport, WebhookOutcome } from './schemas.js';

export async function applyReportInShop(tx: Tx, shopId: string, report: DeliveryReport): Promise<WebhookOutcome> {
  if (!(await rememberProviderEvent(tx, report.eventId, 'status'))) return 'duplicate';
  const message = await tx
    .selectFrom('app.messages')
    .select(['id', 'campaign_id', 'recipient_id', 'credits', 'status', 'refunded_at'])
    .where('shop_id', '=', shopId)
    .where('provider_message_id', '=', report.messageId)
    .forUpdate()
    .executeTakeFirst();
  if (!message) return 'unknown';
  // A final state is final: a late "delivered" after "failed" (or the reverse) does not flip it.
  if (message.status === 'sent') {
    await tx
      .updateTable('app.messages')
      .set({ status: report.status, error_code: report.errorCode?.slice(0, 64) ?? null, status_at: report.occurredAt ?? new Date() })
      .where('shop_id', '=', shopId)
      .where('id', '=', message.id)
      .execute();
    await tx
      .updateTable('app.campaign_recipients')
      .set({ status: report.status === 'delivered' ? 'delivered' : 'failed', error_code: report.errorCode?.slice(0, 64) ?? null, updated_at: new Date() })
      .where('shop_id', '=', shopId)
      .where('campaign_id', '=', message.campaign_id)
      .where('id', '=', message.recipient_id as never)
      .execute();
  }
  if (report.status !== 'delivered' && message.status === 'sent' && !message.refunded_at && message.credits > 0) {
    await applyCreditEntry(tx, {
      shopId,
      kind: 'refund',
      credits: message.credits,
      idempotencyKey: `message:${message.id}:refund`,
      referenceType: 'message',
      referenceId: message.id,
      reason: `delivery ${report.status}`,
    });
    await tx.updateTable('app.messages').set({ refunded_at: new Date() }).where('shop_id', '=', shopId).where('id', '=', message.id).execute();
  }
  return 'applied';
}
