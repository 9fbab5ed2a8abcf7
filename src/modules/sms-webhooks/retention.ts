// Retention for what the SMS provider told us: a shop's inbound messages past its
// retention (the consent change a STOP made lives on in the consent chain, the evidence),
// and the global replay guard of provider event ids (30 days, in SQL).
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import type { Tx } from '../../db/with-shop.js';

export async function deleteInboundMessagesBefore(tx: Tx, shopId: string, cutoff: Date): Promise<number> {
  const result = await tx.deleteFrom('app.inbound_messages').where('shop_id', '=', shopId).where('received_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * What the provider told us that belongs to no shop: event ids older than 30 days (no
 * provider retries a webhook that late), delivery reports kept 30 days for a message that
 * never appeared, texts to numbers no shop held after 90 days. Each table has no shop, so
 * each is one SECURITY DEFINER function, not a per-shop statement.
 */
export async function sweepProviderEvents(db: Db): Promise<number> {
  const { rows } = await sql<{ deleted: number }>`
    select app_private.provider_events_sweep() + app_private.early_delivery_reports_sweep() + app_private.unrouted_inbound_sweep() as deleted`.execute(db);
  return Number(rows[0]?.deleted ?? 0);
}
