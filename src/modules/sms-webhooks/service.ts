// Provider webhooks after their signature has been checked: delivery reports and inbound
// messages. Each is applied in one transaction on its shop, together with remembering its
// event id, so a replay (or a retry after a crash) changes nothing and nothing is lost.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop, type Tx } from '../../db/with-shop.js';
import { applyCreditEntry } from '../wallet/service.js';
import { recordConsentChange } from '../contacts/consent.js';
import { keywordOf } from './keywords.js';

export interface DeliveryReport {
  eventId: string;
  messageId: string;
  status: 'delivered' | 'failed' | 'undelivered';
  errorCode?: string | undefined;
  occurredAt?: string | undefined;
}

export interface InboundMessage {
  eventId: string;
  from: string;
  to: string;
  text: string;
}

export type WebhookOutcome = 'applied' | 'duplicate' | 'unknown';

async function remember(tx: Tx, eventId: string, kind: 'status' | 'inbound'): Promise<boolean> {
  const { rows } = await sql<{ fresh: boolean }>`select app_private.remember_provider_event(${eventId}, ${kind}) as fresh`.execute(tx);
  return rows[0]?.fresh === true;
}

/**
 * A delivery report updates its message and recipient. A permanent failure refunds the
 * message's credits exactly once (the refund's ledger key is the message; refunded_at too).
 */
export async function applyDeliveryReport(db: Db, report: DeliveryReport): Promise<WebhookOutcome> {
  const shopId = await withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ shop_id: string | null }>`select app_private.shop_for_provider_message(${report.messageId}) as shop_id`.execute(tx);
    return rows[0]?.shop_id ?? null;
  });
  if (!shopId) return 'unknown';
  return withShop(db, shopId, async (tx) => {
    if (!(await remember(tx, report.eventId, 'status'))) return 'duplicate';
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
  });
}

/**
 * An inbound text: STOP (and its variants) unsubscribes the contact, START resubscribes,
 * HELP and anything else is recorded. The shop is the one the receiving number belongs to.
 */
export async function applyInboundMessage(db: Db, inbound: InboundMessage): Promise<WebhookOutcome> {
  const shopId = await withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ shop_id: string | null }>`select app_private.shop_for_sms_number(${inbound.to}) as shop_id`.execute(tx);
    return rows[0]?.shop_id ?? null;
  });
  if (!shopId) return 'unknown';
  return withShop(db, shopId, async (tx) => {
    if (!(await remember(tx, inbound.eventId, 'inbound'))) return 'duplicate';
    const keyword = keywordOf(inbound.text);
    const contact = await tx
      .selectFrom('app.contacts')
      .select(['id'])
      .where('shop_id', '=', shopId)
      .where('phone_e164', '=', inbound.from)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    await tx.insertInto('app.inbound_messages').values({ shop_id: shopId, event_id: inbound.eventId, contact_id: contact?.id ?? null, keyword }).execute();
    if (contact && (keyword === 'stop' || keyword === 'start')) {
      await recordConsentChange(tx, {
        shopId,
        contactId: contact.id,
        state: keyword === 'stop' ? 'unsubscribed' : 'subscribed',
        source: 'keyword',
        actor: { kind: 'contact' },
      });
    }
    return 'applied';
  });
}
