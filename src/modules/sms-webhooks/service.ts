// Provider webhooks after their signature has been checked: delivery reports and inbound
// messages. Each is applied in one transaction on its shop, together with remembering its
// event id, so a replay (or a retry after a crash) changes nothing and nothing is lost.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop, type Tx } from '../../db/with-shop.js';
import { applyCreditEntry } from '../wallet/service.js';
import { recordConsentChange } from '../contacts/consent.js';
import { suppressPhone, unsuppressPhone } from '../contacts/suppression.js';
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

export type WebhookOutcome = 'applied' | 'duplicate' | 'unknown' | 'stored' | 'unrouted';

async function remember(tx: Tx, eventId: string, kind: 'status' | 'inbound'): Promise<boolean> {
  const { rows } = await sql<{ fresh: boolean }>`select app_private.remember_provider_event(${eventId}, ${kind}) as fresh`.execute(tx);
  return rows[0]?.fresh === true;
}

/**
 * A delivery report updates its message and recipient. A permanent failure refunds the
 * message's credits exactly once (the refund's ledger key is the message; refunded_at too).
 * A report that arrives before its message is recorded is kept and applied when the row is
 * written (applyEarlyDeliveryReports), never dropped.
 */
export async function applyDeliveryReport(db: Db, report: DeliveryReport): Promise<WebhookOutcome> {
  const shopId = await shopOfMessage(db, report.messageId);
  if (shopId) return withShop(db, shopId, (tx) => applyReportInShop(tx, shopId, report));
  const stored = await withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ fresh: boolean }>`
      select app_private.store_early_delivery_report(${report.eventId}, ${report.messageId}, ${report.status},
        ${report.errorCode?.slice(0, 64) ?? null}, ${report.occurredAt ?? null}::timestamptz) as fresh`.execute(tx);
    return rows[0]?.fresh === true;
  });
  if (!stored) return 'duplicate';
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

async function applyReportInShop(tx: Tx, shopId: string, report: DeliveryReport): Promise<WebhookOutcome> {
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
}

/**
 * An inbound text: STOP (and its variants) unsubscribes, START resubscribes, HELP and
 * anything else is recorded. The shop is the one the receiving number belongs to (or last
 * belonged to: a released number keeps routing replies to its shop). A STOP from a phone
 * that is not a contact goes on the shop's suppression list, so that phone is created
 * unsubscribed later; every STOP does, so it outlives a deleted contact too. A text to a
 * number no shop ever held is kept for operators, never dropped.
 */
export async function applyInboundMessage(db: Db, inbound: InboundMessage): Promise<WebhookOutcome> {
  const keyword = keywordOf(inbound.text);
  const shopId = await withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ shop_id: string | null }>`select app_private.shop_for_sms_number(${inbound.to}) as shop_id`.execute(tx);
    return rows[0]?.shop_id ?? null;
  });
  if (!shopId) {
    const fresh = await withoutTenant(db, async (tx) => {
      const { rows } = await sql<{ fresh: boolean }>`
        select app_private.record_unrouted_inbound(${inbound.eventId}, ${inbound.from}, ${inbound.to}, ${keyword}) as fresh`.execute(tx);
      return rows[0]?.fresh === true;
    });
    return fresh ? 'unrouted' : 'duplicate';
  }
  return withShop(db, shopId, async (tx) => {
    if (!(await remember(tx, inbound.eventId, 'inbound'))) return 'duplicate';
    const contact = await tx
      .selectFrom('app.contacts')
      .select(['id'])
      .where('shop_id', '=', shopId)
      .where('phone_e164', '=', inbound.from)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    await tx.insertInto('app.inbound_messages').values({ shop_id: shopId, event_id: inbound.eventId, contact_id: contact?.id ?? null, keyword }).execute();
    if (keyword === 'stop') await suppressPhone(tx, shopId, inbound.from);
    if (keyword === 'start') await unsuppressPhone(tx, shopId, inbound.from);
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
