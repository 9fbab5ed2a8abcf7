// Estimate and enqueue: who would receive a campaign and what it costs, and the enqueue
// ("enqueue and reservation commit together") in the caller's ONE transaction.
import { sql } from 'kysely';
import { addShopJob } from '../../jobs/catalogue.js';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { audit } from '../audit/service.js';
import { audienceWhere, segmentRuleOf } from '../segments/service.js';
import { activeSenderNumber } from '../sender-numbers/service.js';
import { sendingProfile } from '../settings/service.js';
import { applyCreditEntry } from '../wallet/service.js';
import { getCampaign, notFound } from './drafts.js';
import { MAX_SEGMENTS_PER_MESSAGE, prepareMessage, renderFor, type CampaignMessage } from './message.js';
import { RESERVATION_TTL_HOURS } from './reservation.js';
import type { EnqueuedCampaign, Estimate } from './schemas.js';
import { transition, type CampaignStatus } from './state.js';

async function messageFor(tx: Tx, shopId: string, campaign: { body: string; discount_code: string | null }): Promise<CampaignMessage> {
  const profile = await sendingProfile(tx, shopId);
  return prepareMessage(campaign.body, { shopName: profile.shopName, discountCode: campaign.discount_code, optOutText: profile.optOutText });
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
  const rule = campaign.segment_id ? await segmentRuleOf(tx, shopId, campaign.segment_id) : null;
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
export async function enqueueCampaign(tx: Tx, actor: Actor, id: string): Promise<EnqueuedCampaign> {
  const shopId = actor.shopId;
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
  if (scheduledAt && scheduledAt.getTime() <= Date.now()) throw new AppError(409, 'SCHEDULE_PASSED', 'scheduledAt has passed; change it or clear it to send now');
  if (!(await activeSenderNumber(tx, shopId))) {
    throw new AppError(409, 'NO_SENDER_NUMBER', 'The shop has no sending number yet: an operator assigns one (GET /api/v1/sender-numbers lists them)');
  }
  const message = await messageFor(tx, shopId, campaign);
  const rule = campaign.segment_id ? await segmentRuleOf(tx, shopId, campaign.segment_id) : null;

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
  await addShopJob(tx, 'campaign_dispatch', { shopId, campaignId: id }, scheduledAt ? { runAt: scheduledAt } : {});
  await audit(tx, actor, { action: 'campaign.enqueue', resourceType: 'campaign', resourceId: id, result: 'success', metadata: { recipients: estimate.recipients, credits: estimate.credits } });
  const view = await getCampaign(tx, shopId, id);
  return { ...view!, estimate };
}
