// Shop settings: retention, quiet hours, sender, the sending kill switch, frequency cap.
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { listSenderNumbers } from '../sender-numbers/service.js';

export interface SettingsView {
  timezone: string;
  quietHoursStart: string;
  quietHoursEnd: string;
  retentionDays: number;
  senderName: string | null;
  sendingPaused: boolean;
  frequencyCapPerDay: number;
  optOutText: string;
  /** Read-only: the shop's active sending numbers, assigned by operators. */
  senderNumbers: string[];
}

export type SettingsPatch = Partial<Omit<SettingsView, 'senderNumbers'>>;

const hhmm = (value: string) => value.slice(0, 5);

export async function getSettings(tx: Tx, shopId: string): Promise<SettingsView> {
  const row = await tx.selectFrom('app.shop_settings').selectAll().where('shop_id', '=', shopId).executeTakeFirstOrThrow();
  return {
    timezone: row.timezone,
    quietHoursStart: hhmm(row.quiet_hours_start),
    quietHoursEnd: hhmm(row.quiet_hours_end),
    retentionDays: row.retention_days,
    senderName: row.sender_name,
    sendingPaused: row.sending_paused,
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

/** Returns the settings before and after, for the audit log. */
export async function updateSettings(tx: Tx, shopId: string, patch: SettingsPatch): Promise<{ before: SettingsView; after: SettingsView }> {
  if (patch.timezone !== undefined && !isKnownTimeZone(patch.timezone)) {
    throw new AppError(400, 'INVALID_TIME_ZONE', 'timezone must be an IANA time zone such as Europe/Paris', { field: 'body.timezone' });
  }
  const before = await getSettings(tx, shopId);
  const set: Record<string, unknown> = {};
  if (patch.timezone !== undefined) set.timezone = patch.timezone;
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
  return { before, after: await getSettings(tx, shopId) };
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
