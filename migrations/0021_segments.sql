-- Segments: saved audience filters (a JSON rule tree, compiled to parameterised SQL in
-- src/modules/segments/compile.ts), and the contact fields they can filter on that arrive
-- from outside (Shopify orders, link clicks) as those integrations come.
alter table app.contacts
  add column last_ordered_at timestamptz,
  add column last_clicked_at timestamptz;
grant update (last_ordered_at, last_clicked_at) on app.contacts to pigeon_api, pigeon_worker;

create table app.segments (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  rule jsonb not null check (jsonb_typeof(rule) = 'object' and pg_column_size(rule) <= 65536),
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (shop_id, id)
);
create index segments_shop_created_idx on app.segments (shop_id, created_at, id);
create trigger _100_updated_at before update on app.segments for each row execute function app.tg_set_updated_at();
alter table app.segments enable row level security;
alter table app.segments force row level security;
create policy segments_current on app.segments for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, id, name, rule, created_by), update (name, rule), delete on app.segments to pigeon_api;
grant select on app.segments to pigeon_worker;
