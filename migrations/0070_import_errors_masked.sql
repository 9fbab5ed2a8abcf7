-- Import error rows keep what the error report needs (line, reason, a masked phone) and
-- never the raw CSV line: that line held the person's phone, e-mail and names, and it
-- outlived the contact's redaction.
--
-- contact_id links a row to the contact that held its phone when the row was written
-- (the import resolves it in SQL, after the batch is applied, so a duplicate of a contact
-- created in the same batch is linked too). A redaction deletes the contact's rows by it;
-- a data request lists them by it. Matching by the masked phone would not do: many people
-- share the last four digits. A row whose phone parsed but belonged to nobody (an invalid
-- e-mail on a new number) has no contact to erase it with: it holds only the mask and
-- expires with the shop's retention (README, "Personal data").
alter table app.contact_import_errors
  add column phone_masked text check (length(phone_masked) <= 24),
  add column contact_id uuid;
-- No foreign key, as on campaign_recipients: contacts are never deleted (a deletion is a
-- tombstone), and the import writes the id it has just read from this shop's contacts.
create index contact_import_errors_contact_idx on app.contact_import_errors (shop_id, contact_id) where contact_id is not null;

-- The owner, which runs this, is subject to the policies (FORCE) and has none on these
-- tables: it would rewrite nothing. FORCE is lifted for this transaction's rewrite only and
-- restored below, before the transaction commits, so no other session ever sees it lifted.
alter table app.contact_import_errors no force row level security;
alter table app.contacts no force row level security;

-- Existing rows: the stored line has no header, so which cell held the phone is not
-- known. The first phone-like run in it (7+ characters of digits and separators) is taken
-- as the phone; rows whose reason says there was none get no mask. The mask is the one
-- src/lib/phone-mask.ts writes: a leading '+' kept, every digit but the last four (two for
-- 5–7 digits, none below) replaced by '*'.
with found as (
  select e.shop_id, e.import_id, e.line,
         substring(e.raw from '\+?[0-9][0-9 ().-]{5,40}[0-9]') as text
    from app.contact_import_errors e
   where e.raw is not null and e.reason <> 'missing phone number'
), digits as (
  select f.*, regexp_replace(f.text, '[^0-9]', '', 'g') as d, left(f.text, 1) = '+' as plus
    from found f
   where f.text is not null
), masked as (
  select g.*,
         case when length(g.d) >= 8 then 4 when length(g.d) >= 5 then 2 else 0 end as shown
    from digits g
)
update app.contact_import_errors e
   set phone_masked = (case when m.plus then '+' else '' end)
                      || repeat('*', least(length(m.d) - m.shown, 16))
                      || right(m.d, m.shown)
  from masked m
 where e.shop_id = m.shop_id and e.import_id = m.import_id and e.line = m.line;

-- Link existing rows to a live contact when their phone-like run is, unambiguously, its
-- number: written internationally ('+' || digits), or nationally (the contact's number
-- ends with the digits after any trunk '0', at least 9 of them, behind a 1–3 digit country
-- code). Rows for an invalid phone are never linked.
with found as (
  select e.shop_id, e.import_id, e.line,
         regexp_replace(substring(e.raw from '\+?[0-9][0-9 ().-]{5,40}[0-9]'), '[^0-9]', '', 'g') as d
    from app.contact_import_errors e
   where e.raw is not null and e.reason not in ('missing phone number', 'invalid phone number')
), candidates as (
  select f.shop_id, f.import_id, f.line, c.id as contact_id
    from found f
    join app.contacts c on c.shop_id = f.shop_id and c.deleted_at is null
     and (c.phone_e164 = '+' || f.d
          or (length(ltrim(f.d, '0')) >= 9
              and right(c.phone_e164, length(ltrim(f.d, '0'))) = ltrim(f.d, '0')
              and length(c.phone_e164) - 1 - length(ltrim(f.d, '0')) between 1 and 3))
   where f.d is not null and f.d <> ''
), unambiguous as (
  select shop_id, import_id, line, min(contact_id::text)::uuid as contact_id
    from candidates
   group by shop_id, import_id, line
  having count(distinct contact_id) = 1
)
update app.contact_import_errors e
   set contact_id = u.contact_id
  from unambiguous u
 where e.shop_id = u.shop_id and e.import_id = u.import_id and e.line = u.line;

alter table app.contact_import_errors force row level security;
alter table app.contacts force row level security;

alter table app.contact_import_errors drop column raw;

-- The worker writes rows with a column list, and deletes them (retention). The API deletes
-- them with the contact they belong to (a redaction). The FOR ALL policy of 0022 covers both.
revoke insert on app.contact_import_errors from pigeon_worker;
grant insert (shop_id, import_id, line, reason, phone_masked, contact_id), delete on app.contact_import_errors to pigeon_worker;
grant delete on app.contact_import_errors to pigeon_api;
