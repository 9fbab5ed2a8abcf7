// Shops and their settings.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import type { Tx } from '../../db/with-shop.js';

export async function getShopSettings(tx: Tx, shopId: string) {
  return tx.selectFrom('app.shop_settings').selectAll().where('shop_id', '=', shopId).executeTakeFirst();
}

/**
 * Every shop's id, for maintenance jobs only (the worker role). A cross-tenant read, so
 * it goes through the one security definer function that allows it; no tenant context.
 */
export async function shopIdsForMaintenance(db: Db): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`select id from app_private.shop_ids_for_maintenance() as id`.execute(db);
  return rows.map((r) => r.id);
}
