// The bulk upsert of contacts (the CSV import's batches; the Shopify sync's too): the one
// place contacts are created in bulk, with their first consent links. New phones are
// inserted with one unnest() statement (ON CONFLICT on the shop's phone index answers which
// exist, so a fresh import costs no lookup); the rows that hit an existing contact are then
// locked and updated, and their consent moves where the source may move it (an import never
// re-subscribes an opt-out). A phone on the suppression list is created unsubscribed.
import { sql } from 'kysely';
import type { ConsentState } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { buildLink, consentChangeAllowed, insertConsentLinks } from './consent.js';
import { timeZoneForCountry } from './phone.js';
import { suppressedAmong } from './suppression.js';

/** A row's tags as one text value: string_to_array(…, E'\x1f') in SQL is far cheaper than JSON. */
export const TAG_SEPARATOR = '\x1f';
const joinTags = (tags: string[]) => tags.join(TAG_SEPARATOR);

export interface ContactUpsertRow {
  /** The id the contact gets if this row creates it (chosen by the caller so its link can be too). */
  id: string;
  /** The contact's first consent link, if this row creates it: built (hashed) by the caller ahead of the transaction. */
  firstLink: ReturnType<typeof buildLink>;
  phone: string;
  country: string | null;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  tags: string[];
  consent: ConsentState | null;
  timeZone: string | null;
}

export async function upsertContacts<R extends ContactUpsertRow>(tx: Tx, shopId: string, rows: R[], now: Date): Promise<{ inserted: number; updated: number }> {
  if (rows.length === 0) return { inserted: 0, updated: 0 };
  // A phone that texted STOP is created unsubscribed whatever the file says: its first
  // link is made again with that state (rare: one indexed lookup per batch otherwise).
  const suppressed = await suppressedAmong(tx, shopId, rows.map((r) => r.phone));
  if (suppressed.size > 0) {
    rows = rows.map((r) =>
      suppressed.has(r.phone) && r.firstLink.state !== 'unsubscribed'
        ? { ...r, firstLink: buildLink({ shopId, contactId: r.id, state: 'unsubscribed', previousState: null, source: 'import', actor: { kind: 'system' }, phone: r.phone }, null, now) }
        : r,
    );
  }
  // unnest() inserts: one parameter per column whatever the batch size.
  const { rows: inserted } = await sql<{ id: string }>`
    insert into app.contacts (shop_id, id, phone_e164, email, first_name, last_name, tags, time_zone, country, consent_state, consent_updated_at)
    select ${shopId}::uuid, v.id, v.phone, v.email, v.first_name, v.last_name,
           string_to_array(v.tags, ${TAG_SEPARATOR}), v.time_zone, v.country, v.consent::app.consent_state, ${now}::timestamptz
      from unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.phone)}::text[], ${rows.map((r) => r.email)}::text[],
                  ${rows.map((r) => r.firstName)}::text[], ${rows.map((r) => r.lastName)}::text[], ${rows.map((r) => joinTags(r.tags))}::text[],
                  ${rows.map((r) => r.timeZone ?? timeZoneForCountry(r.country))}::text[], ${rows.map((r) => r.country)}::text[],
                  ${rows.map((r) => r.firstLink.state)}::text[])
           as v(id, phone, email, first_name, last_name, tags, time_zone, country, consent)
    on conflict (shop_id, phone_e164) where deleted_at is null do nothing
    returning id`.execute(tx);
  const created = new Set(inserted.map((c) => c.id));
  await insertConsentLinks(
    tx,
    rows.filter((r) => created.has(r.id)).map((r) => r.firstLink),
  );
  const others = rows.filter((r) => !created.has(r.id));
  if (others.length === 0) return { inserted: inserted.length, updated: 0 };

  const { rows: existing } = await sql<{ id: string; phone_e164: string; consent_state: ConsentState }>`
    select id, phone_e164, consent_state from app.contacts
     where shop_id = ${shopId} and deleted_at is null and phone_e164 = any(${others.map((r) => r.phone)}::text[])
     for update`.execute(tx);
  const byPhone = new Map(existing.map((e) => [e.phone_e164, e]));
  const known = others.filter((r) => byPhone.has(r.phone));

  if (known.length > 0) {
    // Fields the file gives replace the stored ones; empty cells leave them alone; tags add up.
    await sql`
      update app.contacts c
         set email = coalesce(v.email, c.email), first_name = coalesce(v.first_name, c.first_name), last_name = coalesce(v.last_name, c.last_name),
             tags = case when v.tags <> ''
                         then array(select distinct t from unnest(c.tags || string_to_array(v.tags, ${TAG_SEPARATOR})) as t limit 50)
                         else c.tags end,
             time_zone = coalesce(v.time_zone, c.time_zone)
        from unnest(${known.map((r) => r.phone)}::text[], ${known.map((r) => r.email)}::text[], ${known.map((r) => r.firstName)}::text[],
                    ${known.map((r) => r.lastName)}::text[], ${known.map((r) => joinTags(r.tags))}::text[], ${known.map((r) => r.timeZone)}::text[])
             as v(phone, email, first_name, last_name, tags, time_zone)
       where c.shop_id = ${shopId} and c.deleted_at is null and c.phone_e164 = v.phone`.execute(tx);
    const changes = known
      .map((r) => ({ row: r, contact: byPhone.get(r.phone)! }))
      .filter(({ row, contact }) => row.consent && row.consent !== contact.consent_state && consentChangeAllowed(contact.consent_state, row.consent, 'import'));
    if (changes.length > 0) {
      const { rows: heads } = await sql<{ contact_id: string; seq: number; hash: Buffer }>`
        select distinct on (contact_id) contact_id, seq, hash from app.consent_events
         where shop_id = ${shopId} and contact_id = any(${changes.map((c) => c.contact.id)}::uuid[])
         order by contact_id, seq desc`.execute(tx);
      const headOf = new Map(heads.map((h) => [h.contact_id, h]));
      await insertConsentLinks(
        tx,
        changes.map(({ row, contact }) =>
            buildLink(
              { shopId, contactId: contact.id, state: row.consent!, previousState: contact.consent_state, source: 'import', actor: { kind: 'system' }, phone: row.phone },
              headOf.get(contact.id) ?? null,
              now,
            ),
        ),
      );
      await sql`
        update app.contacts c set consent_state = v.state::app.consent_state, consent_updated_at = ${now}
          from unnest(${changes.map((c) => c.contact.id)}::uuid[], ${changes.map((c) => c.row.consent!)}::text[]) as v(id, state)
         where c.shop_id = ${shopId} and c.id = v.id`.execute(tx);
    }
  }
  return { inserted: inserted.length, updated: known.length };
}
