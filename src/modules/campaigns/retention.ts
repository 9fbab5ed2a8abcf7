// Retention for campaigns: a finished campaign's recipients and messages lose what ties
// them to a person (contact_id, provider_message_id) once the campaign is older than the
// shop's retention. They are anonymised rather than deleted because the credit ledger's
// debits and refunds point at them and the campaign's metrics count them
// (migrations/0071). The campaign row itself holds no personal data and stays.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

const FINISHED = ['sent', 'failed', 'cancelled'] as const;

/** Finished campaigns that ended before the cut-off and still hold personal links. */
export async function campaignsToAnonymise(tx: Tx, shopId: string, cutoff: Date): Promise<string[]> {
  const rows = await tx
    .selectFrom('app.campaigns')
    .select('id')
    .where('shop_id', '=', shopId)
    .where('status', 'in', FINISHED)
    .where('personal_data_removed_at', 'is', null)
    .where(sql`coalesce(finished_at, cancelled_at, updated_at)`, '<', cutoff)
    .orderBy('id')
    .execute();
  return rows.map((r) => r.id);
}

/**
 * One campaign, in the caller's transaction. The campaign row is claimed first (it is
 * locked and marked), so two runs never both do the work and a campaign that is no longer
 * finished is left alone. Safe to run again: a marked campaign is skipped.
 */
export async function anonymiseCampaign(tx: Tx, shopId: string, campaignId: string): Promise<{ recipients: number; messages: number } | null> {
  const claimed = await tx
    .updateTable('app.campaigns')
    .set({ personal_data_removed_at: new Date() })
    .where('shop_id', '=', shopId)
    .where('id', '=', campaignId)
    .where('status', 'in', FINISHED)
    .where('personal_data_removed_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!claimed) return null;
  const recipients = await tx
    .updateTable('app.campaign_recipients')
    .set({ contact_id: null, provider_message_id: null })
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', campaignId)
    .executeTakeFirst();
  const messages = await tx
    .updateTable('app.messages')
    .set({ contact_id: null, provider_message_id: null })
    .where('shop_id', '=', shopId)
    .where('campaign_id', '=', campaignId)
    .executeTakeFirst();
  return { recipients: Number(recipients.numUpdatedRows), messages: Number(messages.numUpdatedRows) };
}
