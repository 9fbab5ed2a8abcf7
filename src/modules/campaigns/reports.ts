// What a campaign did: counts by recipient state and credits; the recipients, by id.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { notFound } from './drafts.js';
import type { CampaignMetrics, Recipient } from './schemas.js';

export async function campaignMetrics(tx: Tx, shopId: string, id: string): Promise<CampaignMetrics> {
  const campaign = await tx
    .selectFrom('app.campaigns')
    .select(['status', 'recipients_total', 'credits_reserved', 'credits_spent', 'credits_released'])
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!campaign) throw notFound();
  const counts = await tx
    .selectFrom('app.campaign_recipients')
    .select(['status', sql<string>`count(*)`.as('n')])
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', id)
    .groupBy('status')
    .execute();
  const refunded = await tx
    .selectFrom('app.messages')
    .select(sql<string>`coalesce(sum(credits), 0)`.as('credits'))
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', id)
    .where('refunded_at', 'is not', null)
    .executeTakeFirstOrThrow();
  const by = Object.fromEntries(counts.map((c) => [c.status, Number(c.n)])) as Record<string, number>;
  return {
    status: campaign.status,
    recipients: campaign.recipients_total,
    queued: (by.queued ?? 0) + (by.sending ?? 0),
    sent: (by.sent ?? 0) + (by.delivered ?? 0),
    delivered: by.delivered ?? 0,
    failed: by.failed ?? 0,
    skipped: by.skipped ?? 0,
    cancelled: by.cancelled ?? 0,
    credits: {
      reserved: Number(campaign.credits_reserved),
      spent: Number(campaign.credits_spent),
      released: Number(campaign.credits_released),
      refunded: Number(refunded.credits),
    },
  };
}

export async function listRecipients(tx: Tx, shopId: string, campaignId: string, page: { limit: number; after: string | null; status?: string }): Promise<{ items: Recipient[]; next: string | null }> {
  const exists = await tx.selectFrom('app.campaigns').select('id').where('shop_id', '=', shopId).where('id', '=', campaignId).executeTakeFirst();
  if (!exists) throw notFound();
  let query = tx
    .selectFrom('app.campaign_recipients')
    .select(['id', 'contact_id', 'status', 'skip_reason', 'attempts', 'segments', 'credits', 'provider_message_id', 'error_code', 'updated_at'])
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', campaignId)
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.status) query = query.where('status', '=', page.status as never);
  if (page.after) {
    if (!/^\d{1,19}$/.test(page.after)) throw new AppError(400, 'INVALID_CURSOR', 'The cursor is not valid', { field: 'querystring.cursor' });
    query = query.where('id', '>', page.after as never);
  }
  const rows = await query.execute();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    items: items.map((r) => ({
      id: String(r.id),
      contactId: r.contact_id,
      status: r.status,
      skipReason: r.skip_reason,
      attempts: r.attempts,
      segments: r.segments,
      credits: r.credits,
      providerMessageId: r.provider_message_id,
      errorCode: r.error_code,
      updatedAt: new Date(r.updated_at).toISOString(),
    })),
    next: rows.length > page.limit && last ? String(last.id) : null,
  };
}

/** A contact's campaign history (its data request): recipients and messages still linked to it. */
export async function campaignHistoryOfContact(tx: Tx, shopId: string, contactId: string) {
  const messages = await tx
    .selectFrom('app.messages')
    .select(['campaign_id', 'provider_message_id', 'status', 'segments', 'sent_at', 'status_at'])
    .where('shop_id', '=', shopId)
    .where('contact_id', '=', contactId)
    .orderBy('sent_at')
    .execute();
  const recipients = await tx
    .selectFrom('app.campaign_recipients')
    .select(['campaign_id', 'status', 'skip_reason', 'updated_at'])
    .where('shop_id', '=', shopId)
    .where('contact_id', '=', contactId)
    .orderBy('updated_at')
    .execute();
  return {
    campaignRecipients: recipients.map((r) => ({ campaignId: r.campaign_id, status: r.status, skipReason: r.skip_reason, updatedAt: new Date(r.updated_at).toISOString() })),
    messages: messages.map((m) => ({ campaignId: m.campaign_id, providerMessageId: m.provider_message_id, status: m.status, segments: m.segments, sentAt: new Date(m.sent_at).toISOString(), statusAt: m.status_at ? new Date(m.status_at).toISOString() : null })),
  };
}
