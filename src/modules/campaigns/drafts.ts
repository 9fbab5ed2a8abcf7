// Drafts: create, read, list, edit and delete a campaign before it is enqueued. Operations
// take the caller's transaction and the actor, and write their own audit rows.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import { audit } from '../audit/service.js';
import { TemplateSyntaxError } from '../templates/render.js';
import { recordTemplateUse, templateExists } from '../templates/service.js';
import { segmentExists } from '../segments/service.js';
import { prepareMessage } from './message.js';
import type { Campaign, CampaignInput, CampaignPatch, CampaignStatus } from './schemas.js';

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

export function campaignView(r: Row): Campaign {
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

export const notFound = () => new AppError(404, 'NOT_FOUND', 'Campaign not found');

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
  if (input.segmentId && !(await segmentExists(tx, shopId, input.segmentId))) {
    throw new AppError(404, 'SEGMENT_NOT_FOUND', 'Segment not found', { field: 'body.segmentId' });
  }
  if (input.templateId && !(await templateExists(tx, input.templateId))) {
    throw new AppError(404, 'TEMPLATE_NOT_FOUND', 'Template not found', { field: 'body.templateId' });
  }
}

export async function createCampaign(tx: Tx, actor: Actor, input: CampaignInput): Promise<Campaign> {
  const shopId = actor.shopId;
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
      created_by: actor.userId,
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  if (input.templateId) await recordTemplateUse(tx, shopId, input.templateId);
  await audit(tx, actor, { action: 'campaign.create', resourceType: 'campaign', resourceId: row.id, result: 'success' });
  return campaignView(row);
}

export async function getCampaign(tx: Tx, shopId: string, id: string): Promise<Campaign | null> {
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
export async function updateCampaign(tx: Tx, actor: Actor, id: string, patch: CampaignPatch): Promise<Campaign> {
  const shopId = actor.shopId;
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
  await audit(tx, actor, { action: 'campaign.update', resourceType: 'campaign', resourceId: id, result: 'success', metadata: { changed: Object.keys(patch) } });
  return campaignView(row);
}

/** Only drafts may be deleted (they have no recipients); anything enqueued keeps its history. */
export async function deleteCampaign(tx: Tx, actor: Actor, id: string): Promise<void> {
  const shopId = actor.shopId;
  const current = await tx.selectFrom('app.campaigns').select(['status', 'recipients_total']).where('shop_id', '=', shopId).where('id', '=', id).forUpdate().executeTakeFirst();
  if (!current) throw notFound();
  if (current.status !== 'draft') throw new AppError(409, 'CAMPAIGN_NOT_DRAFT', `A ${current.status} campaign cannot be deleted`);
  await tx.deleteFrom('app.campaigns').where('shop_id', '=', shopId).where('id', '=', id).execute();
  await audit(tx, actor, { action: 'campaign.delete', resourceType: 'campaign', resourceId: id, result: 'success' });
}
