// The app/uninstalled operation, in the shop's transaction: the shop is marked uninstalled,
// its offline token erased (it is dead at Shopify anyway), sending paused by the
// `shopify:uninstalled` hold, and every scheduled, queued or sending campaign cancelled
// through the campaigns module (each releases what it still reserves). A reinstall
// (service.ts completeInstall) clears the mark and the hold; drafts are left as they are.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { cancelCampaign } from '../campaigns/cancel.js';
import { addSendingHold } from '../settings/service.js';

export const UNINSTALLED_HOLD = 'shopify:uninstalled';

export type UninstallOutcome = 'applied' | 'stale' | 'not_this_shop';

export async function uninstallShop(tx: Tx, actor: Actor, input: { webhookId: string; triggeredAt: Date; payload: Record<string, unknown> }): Promise<UninstallOutcome> {
  const shopId = actor.shopId;
  const shop = await tx
    .selectFrom('app.shops')
    .select(['shopify_domain', 'shopify_installed_at', 'uninstalled_at'])
    .where('id', '=', shopId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  // The headers are not signed, only the body: the shop object Shopify sends must name
  // this shop, so a captured body cannot be replayed against another shop or another topic.
  if (typeof input.payload.myshopify_domain !== 'string' || input.payload.myshopify_domain !== shop.shopify_domain) return 'not_this_shop';
  // Shopify does not order deliveries: an uninstall from before the last install is old news.
  if (shop.shopify_installed_at && shop.shopify_installed_at > input.triggeredAt) return 'stale';
  await tx.updateTable('app.shops').set({ uninstalled_at: shop.uninstalled_at ?? new Date(), shopify_access_token: null }).where('id', '=', shopId).execute();
  await addSendingHold(tx, shopId, UNINSTALLED_HOLD);
  const { rows } = await sql<{ id: string }>`
    select id from app.campaigns where shop_id = ${shopId} and status in ('scheduled', 'queued', 'sending') order by created_at`.execute(tx);
  const cancelled: string[] = [];
  for (const { id } of rows) {
    await cancelCampaign(tx, actor, id);
    cancelled.push(id);
  }
  await audit(tx, actor, {
    action: 'shopify.app_uninstalled',
    resourceType: 'shop',
    resourceId: shopId,
    result: 'success',
    metadata: { webhookId: input.webhookId, campaignsCancelled: cancelled.length },
  });
  return 'applied';
}
