// One send batch: a range of a campaign's recipients, sent through the provider.
//
//   1. One transaction: re-check the campaign and the kill switch, lock the batch's
//      pending recipients, apply compliance per recipient NOW (consent, quiet hours in the
//      recipient's zone, frequency cap) recording every skip and its reason, and mark the
//      rest `sending` with attempts + 1.
//   2. Outside any transaction: call the provider, bounded concurrency, with the recipient
//      as client reference. A recipient already tried before (attempts > 1: a crash or an
//      error after the provider may have accepted it) is first looked up by reference, so
//      a provider that cannot dedupe is never asked twice for the same message.
//   3. One transaction: the message rows (one per recipient: unique), the debit (one
//      ledger entry per recipient with its own idempotency key, spent from the campaign's
//      reservation), recipients `sent` / `failed`, and the batch done when nothing in it
//      is left pending, which asks for the next dispatch.
//
//   4. Delivery reports that arrived before step 3 committed (they were kept) are applied.
//
// A crash between 2 and 3 leaves recipients `sending`; the job's retry looks them up and
// writes what step 3 would have. A crash after 3 leaves them `sent`; the retry skips them.
// Transient provider errors and an open circuit leave recipients `sending` and fail the
// job, so graphile-worker retries it later with backoff: an outage pauses sending.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withShop, type Tx } from '../../db/with-shop.js';
import { isQuietTime } from '../../lib/quiet-hours.js';
import { SmsCircuitOpenError, SmsPermanentError } from '../../providers/sms/client.js';
import { activeSenderNumber } from '../sender-numbers/service.js';
import { applyEarlyDeliveryReports } from '../sms-webhooks/early-reports.js';
import { settleCampaignSpend } from './debit.js';
import { debitRecipients } from '../wallet/service.js';
import { requestDispatch } from './dispatch.js';
import { prepareMessage, renderFor } from './message.js';
import { randomUUID } from 'node:crypto';

export interface SmsSender {
  send(input: { from: string; to: string; body: string; clientReference: string }): Promise<{ providerMessageId: string; segments?: number }>;
  lookup(clientReference: string): Promise<{ providerMessageId: string } | null>;
}

export class SendingPausedError extends Error {
  constructor(reason: string) {
    super(`sending is paused: ${reason}`);
    this.name = 'SendingPausedError';
  }
}

export class ProviderUnavailableError extends Error {
  constructor(
    readonly pending: number,
    cause: unknown,
  ) {
    super(`the SMS provider did not take ${pending} message(s); the batch will be retried`, { cause });
    this.name = 'ProviderUnavailableError';
  }
}

export interface BatchOutcome {
  state: 'done' | 'not_sending' | 'already_done';
  sent: number;
  failed: number;
  skipped: number;
}

interface Candidate {
  id: string;
  attempts: number;
  phone: string;
  first_name: string | null;
  last_name: string | null;
  contact_id: string;
  /** What an earlier attempt committed for this recipient (a `sending` one), else null. */
  credits: number | null;
}

/** A recipient claimed for this attempt: its text, rendered once, and what it costs. */
interface Claimed extends Candidate {
  text: string;
  segments: number;
  encoding: 'GSM-7' | 'UCS-2';
}

/** The client reference of a recipient: stable across retries, unique per provider account. */
export const clientReference = (campaignId: string, recipientId: string) => `${campaignId}:${recipientId}`;

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}

/** The batch row, locked: whoever holds it decides what happens to its recipients. */
export function lockBatch(tx: Tx, shopId: string, campaignId: string, batchId: string) {
  return tx
    .selectFrom('app.campaign_batches')
    .select(['status', 'first_recipient_id', 'last_recipient_id'])
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', campaignId)
    .where('id', '=', batchId as never)
    .forUpdate()
    .executeTakeFirst();
}

/** Step 1. Null when the batch has nothing to do (already done, campaign not sending). */
async function claimBatch(tx: Tx, shopId: string, campaignId: string, batchId: string, now: Date) {
  const batch = await lockBatch(tx, shopId, campaignId, batchId);
  if (!batch || batch.status === 'done') return { state: 'already_done' as const };
  const campaign = await tx
    .selectFrom('app.campaigns as c')
    .innerJoin('app.shops as s', 's.id', 'c.shop_id')
    .innerJoin('app.shop_settings as st', 'st.shop_id', 'c.shop_id')
    .select(['c.status', 'c.body', 'c.discount_code', 's.name as shop_name', 'st.opt_out_text', 'st.sending_paused', 'st.sending_holds', 'st.quiet_hours_start', 'st.quiet_hours_end', 'st.timezone', 'st.frequency_cap_per_day'])
    .where('c.shop_id', '=', shopId)
    .where('c.id', '=', campaignId)
    .executeTakeFirstOrThrow();
  if (campaign.status !== 'sending') {
    // Cancelled (or finished by the reconciler): nothing in this batch goes out.
    await sql`update app.campaign_recipients set status = 'cancelled', skip_reason = 'cancelled', updated_at = now()
               where shop_id = ${shopId} and campaign_id = ${campaignId} and id between ${batch.first_recipient_id} and ${batch.last_recipient_id}
                 and status = 'queued'`.execute(tx);
    await markBatchDone(tx, shopId, campaignId, batchId);
    return { state: 'not_sending' as const };
  }
  if (campaign.sending_paused) throw new SendingPausedError('the shop paused all sending');
  if (campaign.sending_holds.length > 0) throw new SendingPausedError(`sending is on hold (${campaign.sending_holds.join(', ')})`);
  // Checked now, not only at enqueue: a number released meanwhile must not be sent from.
  const from = await activeSenderNumber(tx, shopId);
  if (!from) throw new SendingPausedError('the shop has no active sender number');

  const { rows } = await sql<Candidate & { status: string; consent_state: string | null; time_zone: string | null; deleted_at: Date | null; recent: string }>`
    select r.id::text as id, r.attempts, r.status, r.credits, r.contact_id, c.phone_e164 as phone, c.first_name, c.last_name, c.consent_state,
           c.time_zone, c.deleted_at,
           ${
             campaign.frequency_cap_per_day > 0
               ? sql`(select count(*) from app.messages m
                       where m.shop_id = r.shop_id and m.contact_id = r.contact_id and m.sent_at > ${now}::timestamptz - interval '24 hours'
                         and m.campaign_id <> r.campaign_id)`
               : sql`0` // no cap: no lookup per recipient
           } as recent
      from app.campaign_recipients r
      join app.contacts c on c.shop_id = r.shop_id and c.id = r.contact_id
     where r.shop_id = ${shopId} and r.campaign_id = ${campaignId}
       and r.id between ${batch.first_recipient_id} and ${batch.last_recipient_id}
       and r.status in ('queued', 'sending')
     order by r.id
       for update of r`.execute(tx);

  const skips = new Map<string, string[]>();
  const toSend: Candidate[] = [];
  for (const r of rows) {
    let reason: string | null = null;
    if (r.deleted_at || !r.phone) reason = 'contact_deleted';
    else if (r.consent_state !== 'subscribed') reason = 'unsubscribed';
    else if (r.status === 'queued' && isQuietTime(now, r.time_zone ?? campaign.timezone, campaign.quiet_hours_start, campaign.quiet_hours_end)) reason = 'quiet_hours';
    else if (r.status === 'queued' && campaign.frequency_cap_per_day > 0 && Number(r.recent) >= campaign.frequency_cap_per_day) reason = 'frequency_cap';
    if (reason) skips.set(reason, [...(skips.get(reason) ?? []), r.id]);
    else toSend.push(r);
  }
  const message = prepareMessage(campaign.body, { shopName: campaign.shop_name, discountCode: campaign.discount_code, optOutText: campaign.opt_out_text });
  let claimed: Claimed[] = toSend.map((r) => {
    const { text, parts } = renderFor(message, r);
    return { ...r, attempts: r.attempts + 1, text, segments: parts.segments, encoding: parts.encoding };
  });
  // A recipient an earlier attempt claimed and that is skipped now gives its commitment back.
  const skippedIds = new Set([...skips.values()].flat());
  const givenBack = rows.reduce((n, r) => n + (skippedIds.has(r.id) ? (r.credits ?? 0) : 0), 0);
  const setSkipped = (reason: string, ids: string[]) =>
    sql`update app.campaign_recipients set status = 'skipped', skip_reason = ${reason}, credits = null, updated_at = now()
         where shop_id = ${shopId} and campaign_id = ${campaignId} and id = any(${ids}::bigint[])`.execute(tx);
  for (const [reason, ids] of skips) await setSkipped(reason, ids);
  if (claimed.length > 0) {
    await sql`update app.campaign_recipients r set status = 'sending', attempts = r.attempts + 1, credits = v.credits, updated_at = now()
               from unnest(${claimed.map((r) => r.id)}::bigint[], ${claimed.map((r) => r.segments)}::int[]) as v(id, credits)
               where r.shop_id = ${shopId} and r.campaign_id = ${campaignId} and r.id = any(${claimed.map((r) => r.id)}::bigint[]) and r.id = v.id`.execute(tx);
  }
  // Last: the campaign row is shared by every batch of the campaign, so it is locked only
  // from here to the commit (bench:send lost a third of its throughput while the claim held
  // it across the recipient updates). Recipients that do not fit are taken back out.
  const short = await commitCost(tx, shopId, campaignId, batchId, claimed, givenBack);
  if (short.length > 0) {
    skips.set('insufficient_credits', short.map((r) => r.id));
    await setSkipped('insufficient_credits', short.map((r) => r.id));
    const dropped = new Set(short.map((r) => r.id));
    claimed = claimed.filter((r) => !dropped.has(r.id));
  }
  const skipped = [...skips.values()].reduce((n, ids) => n + ids.length, 0);
  return { state: 'claimed' as const, toSend: claimed, skipped, from };
}

/**
 * Commits the claimed recipients' cost to the campaign: only while spent + committed stays
 * within what the campaign reserved. When the names now cost more than at enqueue, the
 * difference is reserved from the shop's available credits; recipients that still do not
 * fit are returned (the last ones of the batch), to be skipped as insufficient_credits.
 * Only this rare path locks the wallet in a claim, after the campaign row; a recording takes
 * the wallet first, so the two can deadlock: Postgres then aborts one, and an aborted claim
 * had sent nothing (its job simply runs again).
 */
async function commitCost(tx: Tx, shopId: string, campaignId: string, batchId: string, claimed: Claimed[], givenBack: number): Promise<Claimed[]> {
  // A recipient claimed by an earlier attempt already holds its earlier cost.
  const delta = claimed.reduce((n, r) => n + r.segments - (r.credits ?? 0), 0) - givenBack;
  if (delta === 0) return [];
  const fits = await sql<{ ok: number }>`
    update app.campaigns set credits_committed = credits_committed + ${delta}
     where shop_id = ${shopId} and id = ${campaignId} and credits_spent + credits_committed + ${delta} <= credits_reserved
    returning 1 as ok`.execute(tx);
  if (fits.rows.length > 0) return [];
  const { rows } = await sql<{ reserved: string; spent: string; committed: string }>`
    select credits_reserved as reserved, credits_spent as spent, credits_committed as committed
      from app.campaigns where shop_id = ${shopId} and id = ${campaignId} for update`.execute(tx);
  const budget = rows[0]!;
  const shortfall = Number(budget.spent) + Number(budget.committed) + delta - Number(budget.reserved);
  const { rows: got } = await sql<{ reserved: string }>`
    select app_private.reserve_available(${shortfall}::bigint, ${`campaign:${campaignId}:topup:${batchId}:${randomUUID()}`}, 'campaign', ${campaignId}, 'messages cost more than reserved at enqueue') as reserved`.execute(tx);
  const added = Number(got[0]?.reserved ?? 0);
  // Drop fresh recipients from the end until what is left fits (one an earlier attempt
  // claimed may have reached the provider already: it is never dropped).
  let over = shortfall - added;
  let kept = delta;
  const dropped: Claimed[] = [];
  for (let i = claimed.length - 1; i >= 0 && over > 0; i--) {
    const r = claimed[i]!;
    if (r.credits !== null) continue;
    dropped.push(r);
    over -= r.segments;
    kept -= r.segments;
  }
  await sql`update app.campaigns set credits_reserved = credits_reserved + ${added}, credits_committed = credits_committed + ${kept}
             where shop_id = ${shopId} and id = ${campaignId}`.execute(tx);
  return dropped;
}

export async function markBatchDone(tx: Tx, shopId: string, campaignId: string, batchId: string) {
  await tx
    .updateTable('app.campaign_batches')
    .set({ status: 'done', done_at: new Date() })
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', campaignId)
    .where('id', '=', batchId as never)
    .where('status', '=', 'pending')
    .execute();
}

type SendResult =
  | { kind: 'sent'; recipient: Claimed; providerMessageId: string }
  | { kind: 'failed'; recipient: Claimed; errorCode: string }
  | { kind: 'retry'; recipient: Claimed; error: unknown };

/** Step 2: one recipient through the provider. Never throws. */
async function sendOne(sms: SmsSender, campaignId: string, from: string, recipient: Claimed): Promise<SendResult> {
  const reference = clientReference(campaignId, recipient.id);
  try {
    if (recipient.attempts > 1) {
      const earlier = await sms.lookup(reference);
      if (earlier) return { kind: 'sent', recipient, providerMessageId: earlier.providerMessageId };
    }
    const accepted = await sms.send({ from, to: recipient.phone, body: recipient.text, clientReference: reference });
    return { kind: 'sent', recipient, providerMessageId: accepted.providerMessageId };
  } catch (error) {
    if (error instanceof SmsPermanentError) return { kind: 'failed', recipient, errorCode: (error as { code?: string }).code ?? 'rejected' };
    return { kind: 'retry', recipient, error };
  }
}

export interface SendBatchOptions {
  concurrency: number;
  /** Test hook: runs between the provider calls and the recording transaction. */
  afterProviderCalls?: () => Promise<void>;
  now?: () => Date;
}

export async function sendBatch(db: Db, sms: SmsSender, shopId: string, campaignId: string, batchId: string, options: SendBatchOptions): Promise<BatchOutcome> {
  const now = options.now?.() ?? new Date();
  const claimed = await withShop(db, shopId, (tx) => claimBatch(tx, shopId, campaignId, batchId, now));
  if (claimed.state !== 'claimed') return { state: claimed.state, sent: 0, failed: 0, skipped: 0 };

  // If the circuit is open, stop calling at once: the rest of the batch waits for the retry.
  let circuitOpen: unknown = null;
  const results = await mapBounded(claimed.toSend, options.concurrency, async (recipient): Promise<SendResult> => {
    if (circuitOpen) return { kind: 'retry', recipient, error: circuitOpen };
    const result = await sendOne(sms, campaignId, claimed.from, recipient);
    if (result.kind === 'retry' && result.error instanceof SmsCircuitOpenError) circuitOpen = result.error;
    return result;
  });
  await options.afterProviderCalls?.();

  const sent = results.filter((r): r is Extract<SendResult, { kind: 'sent' }> => r.kind === 'sent');
  let debits: Array<{ recipientId: string; credits: number }> = [];
  const failed = results.filter((r): r is Extract<SendResult, { kind: 'failed' }> => r.kind === 'failed');
  const retry = results.filter((r): r is Extract<SendResult, { kind: 'retry' }> => r.kind === 'retry');

  // Rows only this batch touches come first; the rows every batch of the campaign shares
  // (the dispatch job's key, the wallet, the campaign's spent counter) come last, so each
  // is locked only from there to the commit and concurrent batches wait less on each
  // other (bench:send, 20,000 recipients: the recording step went from ~260 to ~160 ms per
  // batch of 500 with four batches at once).
  await withShop(db, shopId, async (tx) => {
    let spentNow = 0; // debited now: recipients that move from sending to sent here
    let settled = 0; // commitments that end here (sent or failed)
    if (sent.length > 0) {
      const ids = sent.map((s) => s.recipient.id);
      // Unique per recipient: a retry that re-records a message inserts nothing.
      await sql`
        insert into app.messages (shop_id, campaign_id, recipient_id, contact_id, provider_message_id, segments, encoding, credits, from_number)
        select ${shopId}, ${campaignId}, v.recipient_id, v.contact_id, v.provider_message_id, v.segments, v.encoding, v.segments, ${claimed.from}
          from unnest(${ids}::bigint[], ${sent.map((s) => s.recipient.contact_id)}::uuid[], ${sent.map((s) => s.providerMessageId)}::text[],
                      ${sent.map((s) => s.recipient.segments)}::int[], ${sent.map((s) => s.recipient.encoding)}::text[])
               as v(recipient_id, contact_id, provider_message_id, segments, encoding)
        on conflict (shop_id, recipient_id) do nothing`.execute(tx);
      // (Joins with unnest() also name the ids with = any(...): an index condition, so a
      // batch costs the same at the millionth recipient as at the first.)
      const { rows: moved } = await sql<{ id: string }>`
        update app.campaign_recipients r
           set status = 'sent', provider_message_id = v.provider_message_id, segments = v.segments, credits = v.segments, error_code = null, updated_at = now()
          from unnest(${ids}::bigint[], ${sent.map((s) => s.providerMessageId)}::text[], ${sent.map((s) => s.recipient.segments)}::int[])
               as v(id, provider_message_id, segments)
         where r.shop_id = ${shopId} and r.campaign_id = ${campaignId} and r.id = any(${ids}::bigint[])
           and r.id = v.id and r.status = 'sending'
        returning r.id::text as id`.execute(tx);
      const movedIds = new Set(moved.map((m) => m.id));
      debits = sent.filter((s) => movedIds.has(s.recipient.id)).map((s) => ({ recipientId: s.recipient.id, credits: s.recipient.segments }));
      spentNow = debits.reduce((n, d) => n + d.credits, 0);
      settled += spentNow;
    }
    if (failed.length > 0) {
      const { rows: moved } = await sql<{ credits: number | null }>`
        update app.campaign_recipients r set status = 'failed', error_code = v.code, updated_at = now()
          from unnest(${failed.map((f) => f.recipient.id)}::bigint[], ${failed.map((f) => f.errorCode.slice(0, 64))}::text[]) as v(id, code)
         where r.shop_id = ${shopId} and r.campaign_id = ${campaignId} and r.id = any(${failed.map((f) => f.recipient.id)}::bigint[])
           and r.id = v.id and r.status = 'sending'
        returning r.credits`.execute(tx);
      settled += moved.reduce((n, m) => n + (m.credits ?? 0), 0);
    }
    if (retry.length === 0) {
      await markBatchDone(tx, shopId, campaignId, batchId);
      await requestDispatch(tx, shopId, campaignId);
    }
    // The wallet, then the campaign row last: shared by every batch, it is held only
    // from here to the commit.
    await debitRecipients(tx, campaignId, debits);
    await settleCampaignSpend(tx, shopId, campaignId, spentNow, settled);
  });
  // Reports the provider sent before the rows above were committed were kept; apply them
  // now. If this fails the reconciler applies them later, so it does not fail the batch.
  if (sent.length > 0) {
    await applyEarlyDeliveryReports(db, shopId, sent.map((s) => s.providerMessageId)).catch(() => {});
  }
  if (retry.length > 0) throw new ProviderUnavailableError(retry.length, retry[0]!.error);
  return { state: 'done', sent: sent.length, failed: failed.length, skipped: claimed.skipped };
}
