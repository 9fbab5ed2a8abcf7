-- Sending numbers are assigned to a shop by an operator (npm run numbers:assign) or bought
-- through the provider's number API, never typed in by the shop. Every message goes out
-- from one of its shop's numbers, and an inbound text is routed by the number it was sent
-- to: a contact replies to the number that texted them, so routing by that number is the
-- only way a STOP always reaches the shop that sent the message.
--
-- The self-declared app.shop_settings.sms_number goes: it could route every shop's
-- opt-outs into whichever shop claimed the global sending number first, and its unique
-- key told a second shop who held a number. Declared values are not carried over: a
-- declaration proves nothing about who owns a number (an operator assigns real ones).
alter table app.shop_settings drop column sms_number;
drop function app_private.shop_for_sms_number(text);

create table app.sender_numbers (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  phone_e164 text not null check (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  -- The provider's id of the number when it was bought through its API (null: assigned by hand).
  provider_number_id text check (length(provider_number_id) between 1 and 128),
  status text not null default 'active' check (status in ('active', 'released')),
  assigned_at timestamptz not null default now(),
  released_at timestamptz,
  -- A released number is not given to another shop before this time, and until another shop
  -- holds it, replies to it (STOP above all) still reach this shop.
  quarantined_until timestamptz,
  primary key (shop_id, id),
  check ((status = 'released') = (released_at is not null))
);
-- One active holder per number across all shops. Only operators write this table (the
-- worker role, through the CLI); the API cannot insert, so the key reveals nothing to shops.
create unique index sender_numbers_active_number_idx on app.sender_numbers (phone_e164) where status = 'active';
create index sender_numbers_shop_idx on app.sender_numbers (shop_id, status, assigned_at);
create index sender_numbers_number_idx on app.sender_numbers (phone_e164, assigned_at desc);
alter table app.sender_numbers enable row level security;
alter table app.sender_numbers force row level security;
create policy sender_numbers_current on app.sender_numbers for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
create policy sender_numbers_owner_read on app.sender_numbers for select to pigeon_owner using (true);
grant select on app.sender_numbers to pigeon_api;
grant select, insert (shop_id, phone_e164, provider_number_id), update (status, released_at, quarantined_until) on app.sender_numbers to pigeon_worker;

-- Who holds a number now, or held it last: the active holder first, else the latest one
-- (released or quarantined numbers keep routing to their last shop). Null: nobody ever did.
create function app_private.shop_for_sms_number(p_number text) returns uuid
  language sql stable security definer
  set search_path = ''
  as $$
    select n.shop_id from app.sender_numbers n
     where n.phone_e164 = p_number
     order by (n.status = 'active') desc, n.assigned_at desc
     limit 1
  $$;

-- For an assignment: the number's current or last holder and its quarantine, across shops.
create function app_private.sender_number_holder(p_number text)
  returns table (shop_id uuid, status text, quarantined_until timestamptz)
  language sql stable security definer
  set search_path = ''
  as $$
    select n.shop_id, n.status, n.quarantined_until from app.sender_numbers n
     where n.phone_e164 = p_number
     order by (n.status = 'active') desc, n.assigned_at desc
     limit 1
  $$;

revoke all on function app_private.shop_for_sms_number(text), app_private.sender_number_holder(text) from public;
grant execute on function app_private.shop_for_sms_number(text) to pigeon_api;
grant execute on function app_private.sender_number_holder(text) to pigeon_worker;

-- Each message records the number it went out from.
alter table app.messages add column from_number text check (from_number ~ '^\+[1-9][0-9]{6,14}$');
grant insert (from_number) on app.messages to pigeon_worker;
