// Workflow: cron and job work only (no routes, no SQL of its own). Retention applies each
// shop's retention setting to its data through the owning modules' functions.
//
// One setting, app.shop_settings.retention_days (30–3650, default 730), is the cut-off
// for every kind of a shop's operational personal data: audit events, import error rows
// and leftover upload chunks, inbound messages, ended staff invitations (their e-mail
// address), and the personal links of finished
// campaigns' recipients and messages (anonymised, not deleted: the credit ledger points
// at them). One setting because these kinds serve one purpose, the shop's history of its
// own marketing, and a shop owner should not have to reason about five clocks. Each owning
// module does its own statement, all as pigeon_worker under withShop (RLS). Data that
// belongs to no shop has fixed periods, swept by their own cron tasks: provider event ids
// (provider_events_sweep, 30 days) and ended sessions (session_sweep, 30 days).
import type { Db } from '../../db/kysely.js';
import { addShopJob } from '../../jobs/catalogue.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import { systemActor } from '../../lib/actor.js';
import { audit, purgeAuditEventsBefore } from '../audit/service.js';
import { anonymiseCampaign, campaignsToAnonymise } from '../campaigns/retention.js';
import { sweepImportsBefore } from '../imports/retention.js';
import { deleteInvitationsEndedBefore } from '../members/retention.js';
import { getShopSettings, shopIdsForMaintenance } from '../settings/service.js';
import { deleteInboundMessagesBefore } from '../sms-webhooks/retention.js';

const DAY_MS = 86_400_000;

/** Adds one retention job per shop; the job key makes a repeated sweep a no-op. */
export async function scheduleRetentionForAllShops(db: Db): Promise<number> {
  const shopIds = await shopIdsForMaintenance(db);
  for (const shopId of shopIds) {
    await withShop(db, shopId, (tx) =>
      addShopJob(tx, 'shop_retention_apply', { shopId }),
    );
  }
  return shopIds.length;
}

export interface RetentionResult {
  auditEventsPurged: number;
  importErrorRowsDeleted: number;
  importChunksDeleted: number;
  importsExpired: number;
  inboundMessagesDeleted: number;
  invitationsDeleted: number;
  campaignsAnonymised: number;
  recipientsAnonymised: number;
  messagesAnonymised: number;
}

const NOTHING: RetentionResult = {
  auditEventsPurged: 0,
  importErrorRowsDeleted: 0,
  importChunksDeleted: 0,
  importsExpired: 0,
  inboundMessagesDeleted: 0,
  invitationsDeleted: 0,
  campaignsAnonymised: 0,
  recipientsAnonymised: 0,
  messagesAnonymised: 0,
};

/**
 * Safe to run again: every step removes what is older than the cut-off, so a retry after
 * a crash finds less to do and does the rest. Small kinds go in one transaction; each
 * campaign in its own, since a campaign can have a million recipients. The run is audited
 * with its counts once it is done.
 */
export async function applyRetention(db: Db, shopId: string, now = new Date()): Promise<RetentionResult> {
  const retentionDays = await readInShop(db, shopId, async (tx) => (await getShopSettings(tx, shopId))?.retention_days ?? null);
  if (retentionDays === null) return { ...NOTHING }; // the shop is gone
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
  const result = await withShop(db, shopId, async (tx) => {
    const auditEventsPurged = await purgeAuditEventsBefore(tx, cutoff);
    const imports = await sweepImportsBefore(tx, shopId, cutoff);
    const inboundMessagesDeleted = await deleteInboundMessagesBefore(tx, shopId, cutoff);
    const invitationsDeleted = await deleteInvitationsEndedBefore(tx, shopId, cutoff);
    return {
      ...NOTHING,
      auditEventsPurged,
      importErrorRowsDeleted: imports.errorRows,
      importChunksDeleted: imports.chunks,
      importsExpired: imports.expired,
      inboundMessagesDeleted,
      invitationsDeleted,
    };
  });
  const campaignIds = await readInShop(db, shopId, (tx) => campaignsToAnonymise(tx, shopId, cutoff));
  for (const campaignId of campaignIds) {
    const done = await withShop(db, shopId, (tx) => anonymiseCampaign(tx, shopId, campaignId));
    if (!done) continue;
    result.campaignsAnonymised++;
    result.recipientsAnonymised += done.recipients;
    result.messagesAnonymised += done.messages;
  }
  await withShop(db, shopId, (tx) =>
    audit(tx, systemActor(shopId), {
      action: 'retention.applied',
      result: 'success',
      metadata: { ...result, retentionDays, cutoff: cutoff.toISOString() },
    }),
  );
  return result;
}
