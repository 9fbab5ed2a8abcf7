// Campaigns: drafts, the estimate, the enqueue ("enqueue and debit commit together"),
// cancel, recipients and metrics. Every function takes the caller's transaction.
import { sql } from 'kysely';
import { addJob } from '../../db/add-job.js';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import { TemplateSyntaxError } from '../templates/render.js';
import { recordTemplateUse } from '../templates/service.js';
import { audienceWhere } from '../segments/service.js';
import { activeSenderNumber } from '../sender-numbers/service.js';
import type { Rule } from '../segments/rules.js';
import { applyCreditEntry } from '../wallet/service.js';
import { MAX_SEGMENTS_PER_MESSAGE, prepareMessage, renderFor, type CampaignMessage } from './message.js';
import { transition, type CampaignStatus } from './state.js';
import { dispatchJobKey } from './job-keys.js';

/** A reservation not spent by then is released by the reconciler. */
export const RESERVATION_TTL_HOURS = 72;

export interface CampaignInput {
  name: string;
  body: string;
  segmentId?: string | null;
  templateId?: string | null;
  discountCode?: string | null;
  scheduledAt?: string | null;
}

export interface CampaignView {
  id: string;
  name: string;
  body: string;
  segmentId: string | null;
  templateId: string | null;
  discountCode: string | null;
  status: CampaignStatus;
  scheduledAt: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  cancelledAt: string | null;
  recipientsTotal: number;
  creditsReserved: number;
  createdAt: string;
  updatedAt: string;
}

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

type Row = {
  id: string;
  name: string;
  body: string;
  segment_id: string | null;
  template_id: string | null;
  discount_code: string | null;
  status: CampaignStatus;
  scheduled_at: Date | null;
  queued_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  cancelled_at: Date | null;
  recipients_total: number;
  credits_reserved: string;
  created_at: Date;
  updated_at: Date;
};

export function campaignView(r: Row): CampaignView {
  return {
    id: r.id,
    name: r.name,
    body: r.body,
    segmentId: r.segment_id,
    templateId: r.template_id,
    discountCode: r.discount_code,
    status: r.status,
    scheduledAt: iso(r.scheduled_at),
    queuedAt: iso(r.queued_at),
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    cancelledAt: iso(r.cancelled_at),
    recipientsTotal: r.recipients_total,
    creditsReserved: Number(r.credits_reserved),
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

const columns = [
  'id',
  'name',
  'body',
  'segment_id',
  'template_id',
  'discount_code',
  'status',
  'scheduled_at',
  'queued_at',
  'started_at',
  'finished_at',
  'cancelled_at',
  'recipients_total',
  'credits_reserved',
  'created_at',
  'updated_at',
] as const;

const notFound = () => new AppError(404, 'NOT_FOUND', 'Campaign not found');

function assertBody(body: string): void {
  try {
    prepareMessage(body, { shopName: '', discountCode: null, optOutText: '' });
  } catch (error) {
    if (error instanceof TemplateSyntaxError) throw new AppError(400, 'INVALID_BODY', error.message, { field: 'body.body' });
    throw error;
  }
}

function assertFuture(scheduledAt: string | null | undefined): void {
  if (scheduledAt && new Date(scheduledAt).getTime() <= Date.now()) {
    throw new AppError(400, 'SCHEDULE_IN_PAST', 'scheduledAt must be in the future', { field: 'body.scheduledAt' });
  }
}

/** The segment and template must exist for this shop; another shop's id is a 404. */
async function assertReferences(tx: Tx, shopId: string, input: { segmentId?: string | null; templateId?: string | null }): Promise<void> {
  if (input.segmentId) {
    const segment = await tx.selectFrom('app.segments').select('id').where('shop_id', '=', shopId).where('id', '=', input.segmentId).executeTakeFirst();
    if (!segment) throw new AppError(404, 'SEGMENT_NOT_FOUND', 'Segment not found', { field: 'body.segmentId' });
  }
  if (input.templateId) {
    const template = await tx.selectFrom('app.templates').select('id').where('id', '=', input.templateId).executeTakeFirst();
    if (!template) throw new AppError(404, 'TEMPLATE_NOT_FOUND', 'Template not found', { field: 'body.templateId' });
  }
}

export async function createCampaign(tx: Tx, shopId: string, userId: string, input: CampaignInput): Promise<CampaignView> {
  assertBody(input.body);
  assertFuture(input.scheduledAt);
  await assertReferences(tx, shopId, input);
  const row = await tx
    .insertInto('app.campaigns')
    .values({
      shop_id: shopId,
      name: input.name,
      body: input.body,
      segment_id: input.segmentId ?? null,
      template_id: input.templateId ?? null,
      discount_code: input.discountCode ?? null,
      scheduled_at: input.scheduledAt ?? null,
      created_by: userId,
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  if (input.templateId) await recordTemplateUse(tx, shopId, input.templateId);
  return campaignView(row);
}

export async function getCampaign(tx: Tx, shopId: string, id: string): Promise<CampaignView | null> {
  const row = await tx.selectFrom('app.campaigns').select(columns).where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
  return row ? campaignView(row) : null;
}

export async function listCampaigns(tx: Tx, shopId: string, page: { limit: number; after: [string, string] | null; status?: CampaignStatus }) {
  let query = tx
    .selectFrom('app.campaigns')
    .select(columns)
    .select(sql<string>`created_at::text`.as('created_at_text'))
    .where('shop_id', '=', shopId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.status) query = query.where('status', '=', page.status);
  if (page.after) query = query.where(afterCreatedAtId(page.after, '<'));
  const rows = await query.execute();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items: items.map(campaignView), next: rows.length > page.limit && last ? ([last.created_at_text, last.id] as [string, string]) : null };
}

/** Drafts only: once enqueued, what was promised to the wallet and recipients stays. */
export async function updateCampaign(tx: Tx, shopId: string, id: string, patch: Partial<CampaignInput>): Promise<CampaignView> {
  const current = await tx.selectFrom('app.campaigns').select(['status']).where('shop_id', '=', shopId).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!current) throw notFound();
  if (current.status !== 'draft') throw new AppError(409, 'CAMPAIGN_NOT_DRAFT', `A ${current.status} campaign cannot be edited`);
  if (patch.body !== undefined) assertBody(patch.body);
  assertFuture(patch.scheduledAt);
  await assertReferences(tx, shopId, patch);
  const set: Record<string, unknown> = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.body !== undefined) set.body = patch.body;
  if (patch.segmentId !== undefined) set.segment_id = patch.segmentId;
  if (patch.templateId !== undefined) set.template_id = patch.templateId;
  if (patch.discountCode !== undefined) set.discount_code = patch.discountCode;
  if (patch.scheduledAt !== undefined) set.scheduled_at = patch.scheduledAt;
  const row = await tx.updateTable('app.campaigns').set(set).where('shop_id', '=', shopId).where('id', '=', id).returning(columns).executeTakeFirstOrThrow();
  return campaignView(row);
}

/** Only drafts may be deleted (they have no recipients); anything enqueued keeps its history. */
export async function deleteCampaign(tx: Tx, shopId: string, id: string): Promise<void> {
  const current = await tx.selectFrom('app.campaigns').select(['status', 'recipients_total']).where('shop_id', '=', shopId).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!current) throw notFound();
  if (current.status !== 'draft') throw new AppError(409, 'CAMPAIGN_NOT_DRAFT', `A ${current.status} campaign cannot be deleted`);
  await tx.deleteFrom('app.campaigns').where('shop_id', '=', shopId).where('id', '=', id).execute();
}

async function messageFor(tx: Tx, shopId: string, campaign: { body: string; discount_code: string | null }): Promise<CampaignMessage> {
  const shop = await tx
    .selectFrom('app.shops as s')
    .innerJoin('app.shop_settings as st', 'st.shop_id', 's.id')
    .select(['s.name', 'st.opt_out_text'])
    .where('s.id', '=', shopId)
    .executeTakeFirstOrThrow();
  return prepareMessage(campaign.body, { shopName: shop.name, discountCode: campaign.discount_code, optOutText: shop.opt_out_text });
}

async function segmentRule(tx: Tx, shopId: string, segmentId: string | null): Promise<Rule | null> {
  if (!segmentId) return null;
  const row = await tx.selectFrom('app.segments').select('rule').where('shop_id', '=', shopId).where('id', '=', segmentId).executeTakeFirst();
  if (!row) throw new AppError(404, 'SEGMENT_NOT_FOUND', 'Segment not found');
  return row.rule as Rule;
}

export interface Estimate {
  recipients: number;
  credits: number;
  encodings: { 'GSM-7': number; 'UCS-2': number };
  segmentsPerMessage: { min: number; max: number };
}

/**
 * Cost of sending `message` to groups of recipients that share a name (personalisation
 * depends on nothing else), so a million recipients cost one render per distinct name.
 */
function costOf(message: CampaignMessage, groups: Array<{ first_name: string | null; last_name: string | null; n: string | number }>): Estimate {
  const estimate: Estimate = { recipients: 0, credits: 0, encodings: { 'GSM-7': 0, 'UCS-2': 0 }, segmentsPerMessage: { min: 0, max: 0 } };
  let min = Infinity;
  for (const group of groups) {
    const n = Number(group.n);
    const { parts } = renderFor(message, group);
    if (parts.segments > MAX_SEGMENTS_PER_MESSAGE) {
      throw new AppError(400, 'MESSAGE_TOO_LONG', `A message would take ${parts.segments} segments; the limit is ${MAX_SEGMENTS_PER_MESSAGE}`, { field: 'body.body' });
    }
    estimate.recipients += n;
    estimate.credits += n * parts.segments;
    estimate.encodings[parts.encoding] += n;
    min = Math.min(min, parts.segments);
    estimate.segmentsPerMessage.max = Math.max(estimate.segmentsPerMessage.max, parts.segments);
  }
  estimate.segmentsPerMessage.min = Number.isFinite(min) ? min : 0;
  return estimate;
}

/** Who would receive the campaign now, and what it would cost. Changes nothing. */
export async function estimateCampaign(tx: Tx, shopId: string, id: string): Promise<Estimate> {
  const campaign = await tx.selectFrom('app.campaigns').select(['body', 'discount_code', 'segment_id']).where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
  if (!campaign) throw notFound();
  const message = await messageFor(tx, shopId, campaign);
  const rule = await segmentRule(tx, shopId, campaign.segment_id);
  const { rows } = await sql<{ first_name: string | null; last_name: string | null; n: string }>`
    select c.first_name, c.last_name, count(*) as n
      from app.contacts c
     where ${audienceWhere(shopId, rule, 'c')} and c.consent_state = 'subscribed'
     group by 1, 2`.execute(tx);
  return costOf(message, rows);
}

/**
 * Enqueue, in the caller's ONE transaction: lock the campaign, check its state and rules,
 * insert the recipients with one INSERT … SELECT (subscribed, live, one per contact),
 * reserve their cost (402 rolls all of it back), move the state and add the dispatch job.
 * A concurrent second enqueue waits on the lock and then finds the campaign moved: 409.
 */
export async function enqueueCampaign(tx: Tx, shopId: string, id: string): Promise<CampaignView & { estimate: Estimate }> {
  const campaign = await tx
    .selectFrom('app.campaigns')
    .select(['status', 'body', 'discount_code', 'segment_id', 'scheduled_at'])
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!campaign) throw notFound();
  if (campaign.status !== 'draft') throw new AppError(409, 'CAMPAIGN_NOT_DRAFT', `The campaign is already ${campaign.status}`);
  const scheduledAt = campaign.scheduled_at ? new Date(campaign.scheduled_at) : null;
  if (scheduledAt && scheduledAt.getTime() <= Date.now()) throw new AppError(409, 'SCHEDULE_IN_PAST', 'scheduledAt has passed; change it or clear it to send now');
  if (!(await activeSenderNumber(tx, shopId))) {
    throw new AppError(409, 'NO_SENDER_NUMBER', 'The shop has no sending number yet: an operator assigns one (GET /api/v1/sender-numbers lists them)');
  }
  const message = await messageFor(tx, shopId, campaign);
  const rule = await segmentRule(tx, shopId, campaign.segment_id);

  // One scan of the audience feeds both the recipients and the cost: the insert takes the
  // materialised rows, the grouping counts them by name. A draft has no recipients yet, so
  // every audience row becomes exactly one recipient.
  const { rows: groups } = await sql<{ first_name: string | null; last_name: string | null; n: string }>`
    with audience as materialized (
      select c.id, c.first_name, c.last_name from app.contacts c
       where ${audienceWhere(shopId, rule, 'c')} and c.consent_state = 'subscribed'),
    inserted as (
      insert into app.campaign_recipients (shop_id, campaign_id, contact_id)
      select ${shopId}::uuid, ${id}::uuid, a.id from audience a
      on conflict (shop_id, campaign_id, contact_id) do nothing)
    select first_name, last_name, count(*) as n from audience group by 1, 2`.execute(tx);
  const estimate = costOf(message, groups);
  if (estimate.recipients === 0) throw new AppError(409, 'NO_RECIPIENTS', 'The audience has no subscribed contacts');

  await applyCreditEntry(tx, {
    shopId,
    kind: 'reserve',
    credits: estimate.credits,
    idempotencyKey: `campaign:${id}:reserve`,
    referenceType: 'campaign',
    referenceId: id,
    reason: 'campaign enqueue',
  });
  const now = new Date();
  const to: CampaignStatus = scheduledAt ? 'scheduled' : 'queued';
  const moved = await transition(tx, shopId, id, to, {
    queued_at: now,
    recipients_total: estimate.recipients,
    credits_reserved: estimate.credits,
    reservation_expires_at: new Date((scheduledAt ?? now).getTime() + RESERVATION_TTL_HOURS * 3600 * 1000),
  }, ['draft']);
  if (!moved) throw new AppError(409, 'CAMPAIGN_NOT_DRAFT', 'The campaign was enqueued concurrently');
  await addJob(tx, 'campaign_dispatch', { shopId, campaignId: id }, { jobKey: dispatchJobKey(id), ...(scheduledAt ? { runAt: scheduledAt } : {}), priority: 0 });
  const view = await getCampaign(tx, shopId, id);
  return { ...view!, estimate };
}

/**
 * Cancel: no further sends (queued recipients become cancelled, the send task re-checks the
 * state before every batch) and what is still reserved goes back to the wallet.
 */
export async function cancelCampaign(tx: Tx, shopId: string, id: string): Promise<CampaignView> {
  const campaign = await tx.selectFrom('app.campaigns').select(['status']).where('shop_id', '=', shopId).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!campaign) throw notFound();
  if (!(await transition(tx, shopId, id, 'cancelled', { cancelled_at: new Date(), finished_at: new Date() }))) {
    throw new AppError(409, 'CAMPAIGN_FINISHED', `A ${campaign.status} campaign cannot be cancelled`);
  }
  await sql`
    update app.campaign_recipients set status = 'cancelled', skip_reason = 'cancelled', updated_at = now()
     where shop_id = ${shopId} and campaign_id = ${id} and status = 'queued'`.execute(tx);
  await releaseRemainingReservation(tx, shopId, id, 'campaign cancelled');
  return (await getCampaign(tx, shopId, id))!;
}

/**
 * Gives back what is left of the campaign's reservation (reserved − spent − released), once:
 * the ledger entry's idempotency key is per campaign.
 */
export async function releaseRemainingReservation(tx: Tx, shopId: string, id: string, reason: string): Promise<number> {
  const row = await tx
    .selectFrom('app.campaigns')
    .select(['credits_reserved', 'credits_spent', 'credits_released'])
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirstOrThrow();
  const remaining = Number(row.credits_reserved) - Number(row.credits_spent) - Number(row.credits_released);
  if (remaining <= 0) return 0;
  await applyCreditEntry(tx, { shopId, kind: 'release', credits: remaining, idempotencyKey: `campaign:${id}:release`, referenceType: 'campaign', referenceId: id, reason });
  await tx
    .updateTable('app.campaigns')
    .set({ credits_released: sql`credits_released + ${remaining}` as never })
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .execute();
  return remaining;
}

export async function campaignMetrics(tx: Tx, shopId: string, id: string) {
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

export async function listRecipients(tx: Tx, shopId: string, campaignId: string, page: { limit: number; after: string | null; status?: string }) {
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
