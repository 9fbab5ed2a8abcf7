// Shop settings (app.shop_settings): retention, quiet hours, sender, the sending kill
// switch, frequency cap; and the list of shops that maintenance jobs walk.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { listSenderNumbers } from '../sender-numbers/service.js';
import type { Settings, SettingsPatch } from './schemas.js';

const hhmm = (value: string) => value.slice(0, 5);

export async function getSettings(tx: Tx, shopId: string): Promise<Settings> {
  const row = await tx.selectFrom('app.shop_settings').selectAll().where('shop_id', '=', shopId).executeTakeFirstOrThrow();
  return {
    timeZone: row.timezone,
    quietHoursStart: hhmm(row.quiet_hours_start),
    quietHoursEnd: hhmm(row.quiet_hours_end),
    retentionDays: row.retention_days,
    senderName: row.sender_name,
    sendingPaused: row.sending_paused,
    sendingHolds: row.sending_holds,
    frequencyCapPerDay: row.frequency_cap_per_day,
    optOutText: row.opt_out_text,
    senderNumbers: (await listSenderNumbers(tx, shopId)).filter((n) => n.status === 'active').map((n) => n.number),
  };
}

export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Changes the fields given; audited with the names of the fields that changed. */
export async function updateSettings(tx: Tx, actor: Actor, patch: SettingsPatch): Promise<Settings> {
  const shopId = actor.shopId;
  if (patch.timeZone !== undefined && !isKnownTimeZone(patch.timeZone)) {
    throw new AppError(400, 'INVALID_TIME_ZONE', 'timeZone must be an IANA time zone such as Europe/Paris', { field: 'body.timeZone' });
  }
  const before = await getSettings(tx, shopId);
  const set: Record<string, unknown> = {};
  if (patch.timeZone !== undefined) set.timezone = patch.timeZone;
  if (patch.quietHoursStart !== undefined) set.quiet_hours_start = patch.quietHoursStart;
  if (patch.quietHoursEnd !== undefined) set.quiet_hours_end = patch.quietHoursEnd;
  if (patch.retentionDays !== undefined) set.retention_days = patch.retentionDays;
  if (patch.senderName !== undefined) set.sender_name = patch.senderName;
  if (patch.sendingPaused !== undefined) set.sending_paused = patch.sendingPaused;
  if (patch.frequencyCapPerDay !== undefined) set.frequency_cap_per_day = patch.frequencyCapPerDay;
  if (patch.optOutText !== undefined) set.opt_out_text = patch.optOutText;
  if (Object.keys(set).length > 0) {
    await tx.updateTable('app.shop_settings').set(set).where('shop_id', '=', shopId).execute();
  }
  const after = await getSettings(tx, shopId);
  const changed = Object.keys(patch).filter((k) => JSON.stringify(before[k as keyof Settings]) !== JSON.stringify(after[k as keyof Settings]));
  await audit(tx, actor, { action: 'settings.update', resourceType: 'shop', resourceId: shopId, result: 'success', metadata: { changed } });
  return after;
}

/**
 * Puts a named hold on the shop's sending (a refund shortfall, a payment dispute): sending
 * waits while any hold is present, and the shop cannot lift it (no route writes holds).
 * Returns false when the hold was there already.
 */
export async function addSendingHold(tx: Tx, shopId: string, hold: string): Promise<boolean> {
  const { rows } = await sql<{ shop_id: string }>`
    update app.shop_settings set sending_holds = array_append(sending_holds, ${hold}::text)
     where shop_id = ${shopId} and not (${hold}::text = any (sending_holds)) returning shop_id`.execute(tx);
  return rows.length > 0;
}

/** Lifts one named hold; returns false when it was not there. */
export async function removeSendingHold(tx: Tx, shopId: string, hold: string): Promise<boolean> {
  const { rows } = await sql<{ shop_id: string }>`
    update app.shop_settings set sending_holds = array_remove(sending_holds, ${hold}::text)
     where shop_id = ${shopId} and ${hold}::text = any (sending_holds) returning shop_id`.execute(tx);
  return rows.length > 0;
}

/** What a campaign message needs from the shop: its name and opt-out instruction. */
export async function sendingProfile(tx: Tx, shopId: string): Promise<{ shopName: string; optOutText: string }> {
  const row = await tx
    .selectFrom('app.shops as s')
    .innerJoin('app.shop_settings as st', 'st.shop_id', 's.id')
    .select(['s.name', 'st.opt_out_text'])
    .where('s.id', '=', shopId)
    .executeTakeFirstOrThrow();
  return { shopName: row.name, optOutText: row.opt_out_text };
}

/** The settings row as stored, for jobs that apply it (retention). */
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

/** The region a shop's local phone numbers are read in (ISO 3166 alpha-2). */
export async function defaultRegionOf(tx: Tx, shopId: string): Promise<string> {
  const row = await tx.selectFrom('app.shop_settings').select('default_region').where('shop_id', '=', shopId).executeTakeFirst();
  return row?.default_region ?? 'US';
}
