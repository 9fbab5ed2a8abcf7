// Import error rows: what the error report needs (line, reason, a masked phone) and the
// contact the row's phone belonged to, so the row goes with that contact's redaction and
// appears in its data request. The CSV line itself is never stored (migrations/0070).
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

/** A failing row as the import job hands it over. */
export interface RowError {
  line: number;
  reason: string;
  phoneMasked: string | null;
  /** E.164 when the phone parsed: only to find the contact it belongs to, never stored. */
  phone: string | null;
}

/**
 * One statement for a batch's failing rows. The contact is looked up by the phone here, in
 * SQL, on the shop's phone index: the error path costs one probe per failing row and the
 * rows that succeed cost nothing more.
 */
export async function insertRowErrors(tx: Tx, shopId: string, importId: string, errors: RowError[]): Promise<void> {
  await sql`
    insert into app.contact_import_errors (shop_id, import_id, line, reason, phone_masked, contact_id)
    select ${shopId}::uuid, ${importId}::uuid, v.line, v.reason, v.phone_masked,
           (select c.id from app.contacts c where c.shop_id = ${shopId}::uuid and c.deleted_at is null and c.phone_e164 = v.phone)
      from unnest(${errors.map((e) => e.line)}::int[], ${errors.map((e) => e.reason)}::text[],
                  ${errors.map((e) => e.phoneMasked)}::text[], ${errors.map((e) => e.phone)}::text[])
           as v(line, reason, phone_masked, phone)
    on conflict do nothing`.execute(tx);
}

/** The error report of one import, by line. Bounded by the import's size; failing rows are the exception. */
export async function listRowErrors(tx: Tx, shopId: string, importId: string) {
  return tx
    .selectFrom('app.contact_import_errors')
    .select(['line', 'reason', 'phone_masked'])
    .where('shop_id', '=', shopId)
    .where('import_id', '=', importId)
    .orderBy('line')
    .execute();
}

/** A contact's rows, for its data request: which import, which line, why, and the mask. */
export async function rowErrorsOfContact(tx: Tx, shopId: string, contactId: string) {
  const rows = await tx
    .selectFrom('app.contact_import_errors as e')
    .innerJoin('app.contact_imports as i', (join) => join.onRef('i.shop_id', '=', 'e.shop_id').onRef('i.id', '=', 'e.import_id'))
    .select(['e.import_id', 'e.line', 'e.reason', 'e.phone_masked', 'i.created_at'])
    .where('e.shop_id', '=', shopId)
    .where('e.contact_id', '=', contactId)
    .orderBy('i.created_at')
    .orderBy('e.line')
    .execute();
  return rows.map((r) => ({ importId: r.import_id, line: r.line, reason: r.reason, phoneMasked: r.phone_masked, importedAt: new Date(r.created_at).toISOString() }));
}

/** Part of a contact's redaction: its rows go with it. */
export async function eraseRowErrorsOfContact(tx: Tx, shopId: string, contactId: string): Promise<number> {
  const result = await tx.deleteFrom('app.contact_import_errors').where('shop_id', '=', shopId).where('contact_id', '=', contactId).executeTakeFirst();
  return Number(result.numDeletedRows);
}
