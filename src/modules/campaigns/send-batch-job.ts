// Workflow: one run of a send batch's job, and what happens when it cannot finish.
//
// graphile-worker's own retry backs off exponentially (e^attempt seconds: an hour and more
// after a few failures) and counts every try against the job's attempts. Neither suits a
// batch that is waiting rather than failing:
//   * paused (the shop's kill switch, no provider configured, no sender number): the job
//     puts itself back an interval later with the same key and completes; no attempt is
//     used, so a shop paused for days resumes instead of being failed;
//   * the provider unavailable (an outage, the circuit open): the same, after a delay that
//     grows but never beyond SEND_RETRY_MAX_DELAY_SECONDS, so sending resumes within that
//     long after the provider is back; after SEND_OUTAGE_GIVE_UP_HOURS of nothing but
//     outages the batch gives up;
//   * any other error fails the job as usual (graphile-worker retries it); on its last
//     attempt the batch gives up.
// Giving up resolves the batch: its unsent recipients fail with the reason, the batch is
// done and the dispatch finishes the campaign (what was not spent goes back to the wallet).
import type { Db } from '../../db/kysely.js';
import { addShopJob, type JobPayload } from '../../jobs/catalogue.js';
import { withShop } from '../../db/with-shop.js';
import { recordAuditEvent } from '../audit/service.js';
import { requestDispatch } from './dispatch.js';
import { lockBatch, markBatchDone, ProviderUnavailableError, SendingPausedError, sendBatch, type BatchOutcome, type SendBatchOptions, type SmsSender } from './send.js';
import { sql } from 'kysely';

export type SendBatchPayload = JobPayload<'sms_send_batch'>;

/** A paused batch looks again this often. */
export const PAUSED_RECHECK_SECONDS = 60;

export class ProviderNotConfiguredError extends Error {
  constructor() {
    super('no SMS provider is configured (SMS_PROVIDER_URL, SMS_PROVIDER_API_KEY): the batch waits');
    this.name = 'ProviderNotConfiguredError';
  }
}

export interface SendBatchJobContext {
  db: Db;
  /** Throws ProviderNotConfiguredError when there is none. */
  sms: () => { sender: SmsSender; concurrency: number };
  attempts: number;
  maxAttempts: number;
  retryMaxDelaySeconds: number;
  outageGiveUpHours: number;
  onGiveUp?: (reason: GiveUpReason) => void;
  now?: () => Date;
  sendOptions?: Partial<SendBatchOptions>;
}

export type GiveUpReason = 'provider_unavailable' | 'attempts_exhausted';

export type SendBatchJobOutcome =
  | BatchOutcome
  | { state: 'paused'; reason: string; runAt: Date }
  | { state: 'retrying'; runAt: Date; outageRetries: number }
  | { state: 'given_up'; reason: GiveUpReason; failed: number };

/** Puts the batch's job back for later under its own key; the running job then completes. */
async function rescheduleBatch(db: Db, payload: SendBatchPayload, runAt: Date): Promise<void> {
  await withShop(db, payload.shopId, (tx) =>
    addShopJob(tx, 'sms_send_batch', payload, { runAt }),
  );
}

export async function runSendBatchJob(payload: SendBatchPayload, ctx: SendBatchJobContext): Promise<SendBatchJobOutcome> {
  const now = ctx.now?.() ?? new Date();
  const { shopId, campaignId, batchId } = payload;
  const waiting = { ...payload };
  delete waiting.outageSince;
  delete waiting.outageRetries;
  try {
    const sms = ctx.sms();
    return await sendBatch(ctx.db, sms.sender, shopId, campaignId, batchId, { concurrency: sms.concurrency, ...ctx.sendOptions });
  } catch (error) {
    if (error instanceof SendingPausedError || error instanceof ProviderNotConfiguredError) {
      const runAt = new Date(now.getTime() + PAUSED_RECHECK_SECONDS * 1000);
      // A pause is not an outage: the outage clock starts again afterwards.
      await rescheduleBatch(ctx.db, waiting, runAt);
      return { state: 'paused', reason: error.message, runAt };
    }
    if (error instanceof ProviderUnavailableError) {
      const since = payload.outageSince ? new Date(payload.outageSince) : now;
      if (now.getTime() - since.getTime() >= ctx.outageGiveUpHours * 3600_000) {
        const failed = await giveUpBatch(ctx.db, shopId, campaignId, batchId, 'provider_unavailable');
        ctx.onGiveUp?.('provider_unavailable');
        return { state: 'given_up', reason: 'provider_unavailable', failed };
      }
      const outageRetries = (payload.outageRetries ?? 0) + 1;
      const delaySeconds = Math.min(2 ** outageRetries, ctx.retryMaxDelaySeconds);
      const runAt = new Date(now.getTime() + delaySeconds * 1000);
      await rescheduleBatch(ctx.db, { ...waiting, outageSince: since.toISOString(), outageRetries }, runAt);
      return { state: 'retrying', runAt, outageRetries };
    }
    if (ctx.attempts >= ctx.maxAttempts) {
      // The last attempt: resolve the batch, then let the job fail so its error stays visible.
      await giveUpBatch(ctx.db, shopId, campaignId, batchId, 'attempts_exhausted').catch(() => {});
      ctx.onGiveUp?.('attempts_exhausted');
    }
    throw error;
  }
}

/**
 * Resolves a batch that will not be sent: its recipients still queued or sending fail with
 * the reason (a `sending` one may have reached the provider; it is not charged), the batch
 * is done, and the dispatch finishes the campaign. Audited. Safe to run twice.
 */
export async function giveUpBatch(db: Db, shopId: string, campaignId: string, batchId: string, reason: GiveUpReason): Promise<number> {
  return withShop(db, shopId, async (tx) => {
    const batch = await lockBatch(tx, shopId, campaignId, batchId);
    if (!batch || batch.status === 'done') return 0;
    const { numAffectedRows } = await sql`
      update app.campaign_recipients set status = 'failed', error_code = ${reason}, updated_at = now()
       where shop_id = ${shopId} and campaign_id = ${campaignId}
         and id between ${batch.first_recipient_id} and ${batch.last_recipient_id} and status in ('queued', 'sending')`.execute(tx);
    await markBatchDone(tx, shopId, campaignId, batchId);
    const failed = Number(numAffectedRows ?? 0);
    await recordAuditEvent(tx, {
      shopId,
      action: 'campaign.batch_given_up',
      resourceType: 'campaign',
      resourceId: campaignId,
      result: 'failure',
      metadata: { batchId, reason, recipientsFailed: failed },
    });
    await requestDispatch(tx, shopId, campaignId);
    return failed;
  });
}
