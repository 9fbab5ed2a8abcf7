// The bulk upsert of contacts (the CSV import's batches; the Shopify sync's too): the one
// place contacts are created in bulk, with their first consent links. New phones are
// inserted with one unnest() statement (ON CONFLICT on the shop's phone index answers which
// exist, so a fresh import costs no lookup); the rows that hit an existing contact are then
// locked and updated, and their consent moves where the source may move it (an import never
// re-subscribes an opt-out). A phone on the suppression list is created unsubscribed.
// Rows from Shopify (the sync, the customers/* webhooks) carry the customer's id: those are
// matched by customer id first, then by phone (one more statement per batch, only for them),
// and their consent carries its own time, applied only when newer than the contact's last
// consent change (consentIsNewer).
import { sql } from 'kysely';
import type { ConsentSource, ConsentState } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { buildLink, consentChangeAllowed, consentIsNewer, insertConsentLinks } from './consent.js';
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
  /** Shopify's customer id (the number in its gid, as text): matched before the phone, and stored. */
  shopifyCustomerId?: string | null;
  /**
   * When the consent was given at its source (Shopify's consentUpdatedAt). Present (even
   * null): an existing contact's consent moves only if this is newer than its last change.
   */
  consentAt?: Date | null;
  /** Shopify's opt-in level, kept with the consent link this row adds. */
  optInLevel?: ReturnType<typeof buildLink>['opt_in_level'];
}

export interface UpsertOptions {
  /** The consent source of the links this batch adds to existing contacts (default 'import'). */
  source?: ConsentSource;
}

interface Existing {
  id: string;
  phone_e164: string;
  consent_state: ConsentState;
  consent_updated_at: Date | null;
  shopify_customer_id: string | null;
}

export async function upsertContacts<R extends ContactUpsertRow>(
  tx: Tx,
  shopId: string,
  rows: R[],
  now: Date,
  options: UpsertOptions = {},
): Promise<{ inserted: number; updated: number }> {
  if (rows.length === 0) return { inserted: 0, updated: 0 };
  const source = options.source ?? 'import';
  const actor = source === 'shopify' ? ({ kind: 'shopify' } as const) : ({ kind: 'system' } as const);
  // A phone that texted STOP is created unsubscribed whatever the file says: its first
  // link is made again with that state (rare: one indexed lookup per batch otherwise).
  const suppressed = await suppressedAmong(tx, shopId, rows.map((r) => r.phone));
  if (suppressed.size > 0) {
    rows = rows.map((r) =>
      suppressed.has(r.phone) && r.firstLink.state !== 'unsubscribed'
        ? { ...r, firstLink: buildLink({ shopId, contactId: r.id, state: 'unsubscribed', previousState: null, source, actor, phone: r.phone }, null, now) }
        : r,
    );
  }

  // Rows with a Shopify customer id: the contacts that already have that customer id (or,
  // failing that, the phone) are found and locked first, and those rows update them.
  const known: Array<{ row: R; contact: Existing; phoneFree: boolean }> = [];
  let candidates = rows;
  if (rows.some((r) => r.shopifyCustomerId)) {
    const withIds = rows.filter((r) => r.shopifyCustomerId);
    const { rows: found } = await sql<Existing>`
      select id, phone_e164, consent_state, consent_updated_at, shopify_customer_id::text as shopify_customer_id from app.contacts
       where shop_id = ${shopId} and deleted_at is null
         and (shopify_customer_id = any(${withIds.map((r) => r.shopifyCustomerId!)}::bigint[]) or phone_e164 = any(${withIds.map((r) => r.phone)}::text[]))
       order by id
       for update`.execute(tx);
    const byCustomer = new Map(found.filter((c) => c.shopify_customer_id).map((c) => [c.shopify_customer_id!, c]));
    const byPhone = new Map(found.map((c) => [c.phone_e164, c]));
    const taken = new Set<string>();
    candidates = [];
    for (const row of rows) {
      const contact = (row.shopifyCustomerId ? byCustomer.get(row.shopifyCustomerId) : undefined) ?? byPhone.get(row.phone);
      // One row per contact per batch (a second is left to the insert, which skips it).
      if (!contact || taken.has(contact.id)) {
        candidates.push(row);
        continue;
      }
      taken.add(contact.id);
      // A customer whose number changed keeps their contact; the new number is taken unless another contact has it.
      const holder = byPhone.get(row.phone);
      known.push({ row, contact, phoneFree: !holder || holder.id === contact.id });
    }
  }

  // unnest() inserts: one parameter per column whatever the batch size. A row whose phone
  // (or customer id) a live contact has is skipped here and updated below.
  const { rows: inserted } = candidates.length === 0 ? { rows: [] as Array<{ id: string }> } : await sql<{ id: string }>`
    insert into app.contacts (shop_id, id, phone_e164, email, first_name, last_name, tags, time_zone, country, consent_state, consent_updated_at, shopify_customer_id)
    select ${shopId}::uuid, v.id, v.phone, v.email, v.first_name, v.last_name,
           string_to_array(v.tags, ${TAG_SEPARATOR}), v.time_zone, v.country, v.consent::app.consent_state, ${now}::timestamptz, v.customer_id
      from unnest(${candidates.map((r) => r.id)}::uuid[], ${candidates.map((r) => r.phone)}::text[], ${candidates.map((r) => r.email)}::text[],
                  ${candidates.map((r) => r.firstName)}::text[], ${candidates.map((r) => r.lastName)}::text[], ${candidates.map((r) => joinTags(r.tags))}::text[],
                  ${candidates.map((r) => r.timeZone ?? timeZoneForCountry(r.country))}::text[], ${candidates.map((r) => r.country)}::text[],
                  ${candidates.map((r) => r.firstLink.state)}::text[], ${candidates.map((r) => r.shopifyCustomerId ?? null)}::bigint[])
           as v(id, phone, email, first_name, last_name, tags, time_zone, country, consent, customer_id)
    on conflict do nothing
    returning id`.execute(tx);
  const created = new Set(inserted.map((c) => c.id));
  await insertConsentLinks(
    tx,
    candidates.filter((r) => created.has(r.id)).map((r) => r.firstLink),
  );
  const others = candidates.filter((r) => !created.has(r.id));
  if (others.length > 0) {
    const { rows: existing } = await sql<Existing>`
      select id, phone_e164, consent_state, consent_updated_at, shopify_customer_id::text as shopify_customer_id from app.contacts
       where shop_id = ${shopId} and deleted_at is null and phone_e164 = any(${others.map((r) => r.phone)}::text[])
       order by id
       for update`.execute(tx);
    const byPhone = new Map(existing.map((e) => [e.phone_e164, e]));
    const taken = new Set(known.map((k) => k.contact.id));
    for (const row of others) {
      const contact = byPhone.get(row.phone);
      if (!contact || taken.has(contact.id)) continue;
      taken.add(contact.id);
      known.push({ row, contact, phoneFree: true });
    }
  }
  if (known.length === 0) return { inserted: inserted.length, updated: 0 };

  // Fields the row gives replace the stored ones; empty cells leave them alone; tags add up.
  const phoneOf = ({ row, contact, phoneFree }: (typeof known)[number]) => (phoneFree ? row.phone : contact.phone_e164);
  await sql`
    update app.contacts c
       set phone_e164 = v.phone,
           email = coalesce(v.email, c.email), first_name = coalesce(v.first_name, c.first_name), last_name = coalesce(v.last_name, c.last_name),
           tags = case when v.tags <> ''
                       then array(select distinct t from unnest(c.tags || string_to_array(v.tags, ${TAG_SEPARATOR})) as t limit 50)
                       else c.tags end,
           time_zone = coalesce(v.time_zone, c.time_zone),
           shopify_customer_id = coalesce(v.customer_id, c.shopify_customer_id)
      from unnest(${known.map((k) => k.contact.id)}::uuid[], ${known.map(phoneOf)}::text[], ${known.map((k) => k.row.email)}::text[], ${known.map((k) => k.row.firstName)}::text[],
                  ${known.map((k) => k.row.lastName)}::text[], ${known.map((k) => joinTags(k.row.tags))}::text[], ${known.map((k) => k.row.timeZone)}::text[],
                  ${known.map((k) => k.row.shopifyCustomerId ?? null)}::bigint[])
           as v(id, phone, email, first_name, last_name, tags, time_zone, customer_id)
     where c.shop_id = ${shopId} and c.id = v.id`.execute(tx);
  const changes = known.filter(
    ({ row, contact }) =>
      row.consent &&
      row.consent !== contact.consent_state &&
      consentChangeAllowed(contact.consent_state, row.consent, source) &&
      (row.consentAt === undefined || consentIsNewer(contact.consent_state, contact.consent_updated_at, row.consentAt)),
  );
  if (changes.length > 0) {
    const { rows: heads } = await sql<{ contact_id: string; seq: number; hash: Buffer }>`
      select distinct on (contact_id) contact_id, seq, hash from app.consent_events
       where shop_id = ${shopId} and contact_id = any(${changes.map((c) => c.contact.id)}::uuid[])
       order by contact_id, seq desc`.execute(tx);
    const headOf = new Map(heads.map((h) => [h.contact_id, h]));
    await insertConsentLinks(
      tx,
      changes.map((change) =>
        buildLink(
          { shopId, contactId: change.contact.id, state: change.row.consent!, previousState: change.contact.consent_state, source, actor, phone: phoneOf(change), optInLevel: change.row.optInLevel ?? null },
          headOf.get(change.contact.id) ?? null,
          now,
        ),
      ),
    );
    await sql`
      update app.contacts c set consent_state = v.state::app.consent_state, consent_updated_at = ${now}
        from unnest(${changes.map((c) => c.contact.id)}::uuid[], ${changes.map((c) => c.row.consent!)}::text[]) as v(id, state)
       where c.shop_id = ${shopId} and c.id = v.id`.execute(tx);
  }
  return { inserted: inserted.length, updated: known.length };
}
