// The shop's suppression list: phones that texted STOP. Every way of creating a contact
// (API, import, Shopify sync) asks it, so such a phone starts unsubscribed whatever the
// source claims; START takes the phone off again.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

export async function suppressPhone(tx: Tx, shopId: string, phone: string): Promise<void> {
  await sql`insert into app.suppressed_phones (shop_id, phone_e164, source) values (${shopId}, ${phone}, 'keyword') on conflict do nothing`.execute(tx);
}

export async function unsuppressPhone(tx: Tx, shopId: string, phone: string): Promise<void> {
  await tx.deleteFrom('app.suppressed_phones').where('shop_id', '=', shopId).where('phone_e164', '=', phone).execute();
}

/** Which of `phones` are suppressed (one indexed lookup for a whole import batch). */
export async function suppressedAmong(tx: Tx, shopId: string, phones: string[]): Promise<Set<string>> {
  if (phones.length === 0) return new Set();
  const { rows } = await sql<{ phone_e164: string }>`
    select phone_e164 from app.suppressed_phones where shop_id = ${shopId} and phone_e164 = any(${phones}::text[])`.execute(tx);
  return new Set(rows.map((r) => r.phone_e164));
}
