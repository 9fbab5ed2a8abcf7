-- Opt-outs that have no contact to land on.
--
-- A STOP from a phone that is not a contact of the shop still binds the shop: the phone
-- goes on the shop's suppression list, and every way of creating a contact (API, import,
-- Shopify sync) creates that phone unsubscribed. A START takes it off again. The list
-- outlives the deletion of a contact on purpose: it is the record that the person said
-- STOP, which the law requires us to honour.
create table app.suppressed_phones (
  shop_id uuid not null references app.shops (id) on delete cascade,
  phone_e164 text not null check (phone_e164 ~ '^\+[1-9][0-9]{6,14}$'),
  source text not null check (source in ('keyword')),
  created_at timestamptz not null default now(),
  primary key (shop_id, phone_e164)
);
alter table app.suppressed_phones enable row level security;
alter table app.suppressed_phones force row level security;
create policy suppressed_phones_current on app.suppressed_phones for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, phone_e164, source), delete on app.suppressed_phones to pigeon_api;
grant select on app.suppressed_phones to pigeon_worker;

-- Inbound texts to a number no shop ever held: kept (never dropped) for operators
-- (npm run inbound:unrouted), 90 days. No shop to put them under, so they are reached only
-- through the functions below.
create table app.unrouted_inbound_messages (
  event_id text primary key check (length(event_id) between 1 and 128),
  from_phone text not null check (from_phone ~ '^\+[1-9][0-9]{6,14}$'),
  to_number text not null check (to_number ~ '^\+[1-9][0-9]{6,14}$'),
  keyword text not null check (keyword in ('stop', 'start', 'help', 'other')),
  received_at timestamptz not null default now()
);
create index unrouted_inbound_messages_received_idx on app.unrouted_inbound_messages (received_at);
alter table app.unrouted_inbound_messages enable row level security;
alter table app.unrouted_inbound_messages force row level security;
create policy unrouted_inbound_messages_owner on app.unrouted_inbound_messages for all to pigeon_owner using (true) with check (true);

-- True when the event was new (false: a replay).
create function app_private.record_unrouted_inbound(p_event_id text, p_from text, p_to text, p_keyword text) returns boolean
  language sql volatile security definer
  set search_path = ''
  as $$
    with fresh as (
      insert into app.unrouted_inbound_messages (event_id, from_phone, to_number, keyword) values (p_event_id, p_from, p_to, p_keyword)
      on conflict do nothing returning 1)
    select exists (select 1 from fresh)
  $$;

create function app_private.unrouted_inbound(p_limit integer)
  returns table (event_id text, from_phone text, to_number text, keyword text, received_at timestamptz)
  language sql stable security definer
  set search_path = ''
  as $$
    select u.event_id, u.from_phone, u.to_number, u.keyword, u.received_at from app.unrouted_inbound_messages u
     order by u.received_at desc limit least(greatest(p_limit, 1), 10000)
  $$;

create function app_private.unrouted_inbound_sweep() returns integer
  language sql volatile security definer
  set search_path = ''
  as $$ with gone as (delete from app.unrouted_inbound_messages where received_at < now() - interval '90 days' returning 1) select count(*)::integer from gone $$;

revoke all on function app_private.record_unrouted_inbound(text, text, text, text), app_private.unrouted_inbound(integer),
  app_private.unrouted_inbound_sweep() from public;
grant execute on function app_private.record_unrouted_inbound(text, text, text, text) to pigeon_api;
grant execute on function app_private.unrouted_inbound(integer), app_private.unrouted_inbound_sweep() to pigeon_worker;
