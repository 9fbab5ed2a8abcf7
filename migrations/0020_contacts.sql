-- Contacts and their consent.
--
-- Consent history is evidence (a TCPA dispute needs it), so it is tamper-evident: each
-- event stores SHA-256 over its canonical content and the previous event's hash. One chain
-- PER CONTACT, anchored on the shop (the first event's prev_hash is a genesis hash over the
-- shop and contact ids): an import of a million contacts appends a million independent
-- first links and never serialises on one per-shop chain head. PII enters a hash only
-- through pii_digest = SHA-256(salt || phone); a GDPR redaction removes the phone and the
-- salt and leaves every hash valid. Run-time roles may read and insert events, never
-- change or delete them; the one exception is the redaction function below.

alter table app.shop_settings
  add column default_region text not null default 'US' check (default_region ~ '^[A-Z]{2}$');
grant update (default_region) on app.shop_settings to pigeon_api;

create type app.consent_state as enum ('subscribed', 'unsubscribed', 'never');
create type app.consent_source as enum ('import', 'api', 'shopify', 'keyword', 'admin');

create table app.contacts (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  -- Null only for a deleted contact (PII removed, the row kept for history's references).
  phone_e164 text check (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  email text check (length(email) between 3 and 320),
  first_name text check (length(first_name) <= 100),
  last_name text check (length(last_name) <= 100),
  tags text[] not null default '{}' check (cardinality(tags) <= 50),
  attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object' and pg_column_size(attributes) <= 8192),
  time_zone text check (length(time_zone) <= 64),
  country text check (country ~ '^[A-Z]{2}$'),
  consent_state app.consent_state not null default 'never',
  consent_updated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  primary key (shop_id, id),
  check (deleted_at is not null or phone_e164 is not null)
);
-- One live contact per number per shop; the same number in another shop is another contact.
-- text_pattern_ops serves both the equality lookups and phone-prefix search: one index, not two.
create unique index contacts_shop_phone_key on app.contacts (shop_id, phone_e164 text_pattern_ops) where deleted_at is null;
create index contacts_shop_created_idx on app.contacts (shop_id, created_at, id);
create index contacts_shop_updated_idx on app.contacts (shop_id, updated_at, id);
create index contacts_shop_consent_idx on app.contacts (shop_id, consent_state);
create index contacts_shop_first_name_idx on app.contacts (shop_id, lower(first_name) text_pattern_ops);
create index contacts_shop_last_name_idx on app.contacts (shop_id, lower(last_name) text_pattern_ops);
create index contacts_tags_idx on app.contacts using gin (tags);
create trigger _100_updated_at before update on app.contacts for each row execute function app.tg_set_updated_at();
alter table app.contacts enable row level security;
alter table app.contacts force row level security;
create policy contacts_current on app.contacts for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select,
  insert (shop_id, id, phone_e164, email, first_name, last_name, tags, attributes, time_zone, country, consent_state, consent_updated_at),
  update (phone_e164, email, first_name, last_name, tags, attributes, time_zone, country, consent_state, consent_updated_at, deleted_at)
  on app.contacts to pigeon_api, pigeon_worker;

create table app.consent_events (
  shop_id uuid not null,
  contact_id uuid not null,
  seq integer not null check (seq >= 1),
  state app.consent_state not null,
  previous_state app.consent_state,
  source app.consent_source not null,
  actor_kind text not null check (actor_kind in ('user', 'system', 'contact', 'shopify')),
  actor_id uuid,
  occurred_at timestamptz not null,
  pii_digest bytea not null check (length(pii_digest) = 32),
  -- The evidence itself; removed by a redaction (the digest stays).
  pii_salt bytea check (length(pii_salt) = 16),
  pii_phone text,
  prev_hash bytea not null check (length(prev_hash) = 32),
  hash bytea not null check (length(hash) = 32),
  primary key (shop_id, contact_id, seq),
  foreign key (shop_id, contact_id) references app.contacts (shop_id, id)
);
alter table app.consent_events enable row level security;
alter table app.consent_events force row level security;
create policy consent_events_current on app.consent_events for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert on app.consent_events to pigeon_api, pigeon_worker;

-- GDPR redaction of one contact's consent evidence, in the current shop only.
create policy consent_events_redact on app.consent_events for update to pigeon_owner using (true) with check (true);
create policy consent_events_redact_read on app.consent_events for select to pigeon_owner using (true);
create function app_private.redact_consent_pii(p_contact_id uuid) returns integer
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_count integer;
begin
  if v_shop is null then
    raise exception 'redact_consent_pii needs a current shop' using errcode = 'PGNSH';
  end if;
  update app.consent_events set pii_phone = null, pii_salt = null
   where shop_id = v_shop and contact_id = p_contact_id and (pii_phone is not null or pii_salt is not null);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function app_private.redact_consent_pii(uuid) from public;
grant execute on function app_private.redact_consent_pii(uuid) to pigeon_api, pigeon_worker;
