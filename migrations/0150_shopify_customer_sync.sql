-- Shopify customers become contacts (issue 13): the backfill (POST /api/v1/shopify/sync,
-- a bulk operation's JSONL streamed through the contacts bulk upsert) and, later, the
-- customers/* webhooks share one mapping. For that a contact keeps its Shopify customer id
-- (matched before the phone: a customer who changes their number stays one contact), a
-- consent link from Shopify keeps the opt-in level Shopify reported (SINGLE_OPT_IN,
-- CONFIRMED_OPT_IN, UNKNOWN: evidence of how the consent was given, outside the hash like
-- nothing else that is not evidence; run-time roles never update a link), and each shop's
-- syncs are rows with their progress and the checkpoint a crashed job resumes from.

-- The numeric part of gid://shopify/Customer/<n>. One live contact per customer per shop;
-- a redacted contact (deleted_at) lets go of it.
alter table app.contacts add column shopify_customer_id bigint check (shopify_customer_id > 0);
create unique index contacts_shop_shopify_customer_key on app.contacts (shop_id, shopify_customer_id)
  where shopify_customer_id is not null and deleted_at is null;
grant insert (shopify_customer_id), update (shopify_customer_id) on app.contacts to pigeon_api, pigeon_worker;

alter table app.consent_events add column opt_in_level text
  check (opt_in_level in ('SINGLE_OPT_IN', 'CONFIRMED_OPT_IN', 'UNKNOWN'));
-- consent_events keeps its table-wide insert grant (0020): the new column is insertable.

create type app.shopify_sync_status as enum ('queued', 'running', 'done', 'failed');

create table app.shopify_syncs (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  status app.shopify_sync_status not null default 'queued',
  -- Shopify's gid of the bulk operation whose result is being applied (null until started).
  bulk_operation_id text check (length(bulk_operation_id) <= 200),
  -- The customers Shopify reported for that operation.
  object_count bigint check (object_count >= 0),
  -- Lines of the result applied (the checkpoint: a resumed job skips this many lines).
  checkpoint_line integer not null default 0 check (checkpoint_line >= 0),
  lines_read integer not null default 0 check (lines_read >= 0),
  inserted integer not null default 0 check (inserted >= 0),
  updated integer not null default 0 check (updated >= 0),
  -- Customers without a usable phone, or whose phone another customer of the result had.
  skipped integer not null default 0 check (skipped >= 0),
  -- How many times the bulk operation had to be run again (its result expired before a
  -- resumed job could read it); the checkpoint and the line counters restart each time.
  restarts integer not null default 0 check (restarts >= 0),
  error text check (length(error) <= 500),
  created_by uuid,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  primary key (shop_id, id)
);
create index shopify_syncs_shop_created_idx on app.shopify_syncs (shop_id, created_at desc);
-- One sync at a time per shop: a second start while one is queued or running is refused.
create unique index shopify_syncs_one_active_key on app.shopify_syncs (shop_id) where status in ('queued', 'running');
alter table app.shopify_syncs enable row level security;
alter table app.shopify_syncs force row level security;
create policy shopify_syncs_current on app.shopify_syncs for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, id, created_by) on app.shopify_syncs to pigeon_api;
grant select,
  update (status, bulk_operation_id, object_count, checkpoint_line, lines_read, inserted, updated, skipped, restarts, error, started_at, finished_at)
  on app.shopify_syncs to pigeon_worker;
