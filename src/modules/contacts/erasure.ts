// Erasing a whole shop's contacts (Shopify's shop/redact): every live or deleted contact is
// redacted exactly as one deletion redacts it (phone, e-mail, names, tags, attributes, time
// zone gone; the row stays so that campaign history and consent chains keep their
// non-identifying references), the consent evidence's PII is removed (the hashes stay
// valid), and the shop's suppressed phones are forgotten. Set-based: one statement each.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

export interface ContactErasure {
  contacts: number;
  consentEvidence: number;
  suppressedPhones: number;
}

export async function eraseAllContacts(tx: Tx, shopId: string): Promise<ContactErasure> {
  const contacts = await tx
    .updateTable('app.contacts')
    .set({ phone_e164: null, email: null, first_name: null, last_name: null, tags: [], attributes: '{}', time_zone: null, deleted_at: sql<Date>`coalesce(deleted_at, now())` as never })
    .where('shop_id', '=', shopId)
    .where((eb) => eb.or([eb('phone_e164', 'is not', null), eb('email', 'is not', null), eb('first_name', 'is not', null), eb('last_name', 'is not', null), eb('deleted_at', 'is', null)]))
    .executeTakeFirst();
  const { rows } = await sql<{ n: number }>`select app_private.redact_shop_consent_pii() as n`.execute(tx);
  const suppressed = await tx.deleteFrom('app.suppressed_phones').where('shop_id', '=', shopId).executeTakeFirst();
  return { contacts: Number(contacts.numUpdatedRows), consentEvidence: rows[0]?.n ?? 0, suppressedPhones: Number(suppressed.numDeletedRows) };
}
