// The campaign state machine. Every move is one UPDATE … WHERE status IN (<allowed from>),
// so the database decides races: of two concurrent moves from the same state, one updates
// the row and the other updates nothing and is told so.
import type { Tx } from '../../db/with-shop.js';
import type { CampaignStatus } from './schemas.js';

export type { CampaignStatus };

export const TRANSITIONS: Readonly<Record<CampaignStatus, readonly CampaignStatus[]>> = {
  draft: ['scheduled', 'queued', 'cancelled'],
  scheduled: ['sending', 'cancelled'],
  queued: ['sending', 'cancelled'],
  sending: ['sent', 'failed', 'cancelled'],
  sent: [],
  failed: [],
  cancelled: [],
};

export const FINISHED: readonly CampaignStatus[] = ['sent', 'failed', 'cancelled'];

/** The states from which `to` may be reached. */
export function sourcesOf(to: CampaignStatus): CampaignStatus[] {
  return (Object.keys(TRANSITIONS) as CampaignStatus[]).filter((from) => TRANSITIONS[from].includes(to));
}

type Extra = Partial<{
  scheduled_at: Date | null;
  queued_at: Date;
  started_at: Date;
  finished_at: Date;
  cancelled_at: Date;
  failure_reason: string;
  recipients_total: number;
  credits_reserved: number;
  reservation_expires_at: Date | null;
}>;

/**
 * Moves the campaign to `to` if it is in one of `from` (default: every state allowed to
 * reach `to`). False when it was in none of them (someone else moved it first).
 */
export async function transition(tx: Tx, shopId: string, campaignId: string, to: CampaignStatus, extra: Extra = {}, from: CampaignStatus[] = sourcesOf(to)): Promise<boolean> {
  for (const source of from) if (!TRANSITIONS[source].includes(to)) throw new Error(`no transition ${source} → ${to}`);
  const result = await tx
    .updateTable('app.campaigns')
    .set({ status: to, ...extra })
    .where('shop_id', '=', shopId)
    .where('id', '=', campaignId)
    .where('status', 'in', from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
