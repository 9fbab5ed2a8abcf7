-- Foundation: schemas, tenant functions, the first tables, the job wrapper.
-- Runs as pigeon_owner (the migration runner switches to it). The run-time roles
-- pigeon_api and pigeon_worker already exist (sql/roles.sql).
--
-- Conventions (graphile/starter): every table enables RLS, the policy is written before
-- the grant, grants of insert/update list their columns, every security definer function
-- sets search_path, every function states its volatility.

create extension if not exists citext with schema public;

create schema app;          -- tables and the functions the policies call
create schema app_private;  -- security definer functions: the only paths around RLS

revoke all on schema app, app_private from public;
-- Readiness compares the applied migrations with the files on disk.
grant usage on schema pigeon_migrations to pigeon_api, pigeon_worker;
grant select on pigeon_migrations.applied to pigeon_api, pigeon_worker;
grant usage on schema app to pigeon_api, pigeon_worker;
grant usage on schema app_private to pigeon_api, pigeon_worker;
-- Functions are executable by PUBLIC by default; nothing here should be.
alter default privileges in schema app revoke execute on functions from public;
alter default privileges in schema app_private revoke execute on functions from public;

-- The current tenant, read from the transaction-local setting. '' (what a reset local
-- setting reads as) and a missing setting are both NULL, and NULL matches no row.
-- A value that is not a UUID raises: fail closed, never "all shops".
create function app.current_shop_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.shop_id', true), '')::uuid $$;

create function app.current_user_id() returns uuid
  language sql stable parallel safe
  as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;

grant execute on function app.current_shop_id(), app.current_user_id() to pigeon_api, pigeon_worker;

-- Keeps updated_at honest without trusting callers.
create function app.tg_set_updated_at() returns trigger
  language plpgsql volatile
  as $$ begin new.updated_at := now(); return new; end $$;

------------------------------------------------------------------------------
-- shops: the tenants. A shop row is its own tenant: visible only when it is current.
create table app.shops (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  -- Global identity of a Shopify store; unique across shops by nature (allowlisted in the RLS report).
  shopify_domain text unique check (shopify_domain ~ '^[a-z0-9][a-z0-9-]*\.myshopify\.com$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger _100_updated_at before update on app.shops for each row execute function app.tg_set_updated_at();
alter table app.shops enable row level security;
alter table app.shops force row level security;
create policy shops_current on app.shops for all to pigeon_api, pigeon_worker
  using (id = (select app.current_shop_id()))
  with check (id = (select app.current_shop_id()));
grant select, insert (id, name, shopify_domain), update (name, shopify_domain), delete on app.shops to pigeon_api;
grant select on app.shops to pigeon_worker;

------------------------------------------------------------------------------
-- users: people, who may belong to several shops. Guarded by app.user_id, and visible
-- to the staff of a shop they belong to.
create table app.users (
  id uuid primary key default gen_random_uuid(),
  email citext not null unique check (length(email) between 3 and 320),
  password_hash text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger _100_updated_at before update on app.users for each row execute function app.tg_set_updated_at();

create type app.member_role as enum ('owner', 'admin', 'member');

create table app.memberships (
  shop_id uuid not null references app.shops (id) on delete cascade,
  -- users are global identities, not tenant rows (allowlisted in the RLS report).
  user_id uuid not null references app.users (id) on delete cascade,
  role app.member_role not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (shop_id, user_id)
);
create index memberships_user_id_idx on app.memberships (user_id);
create trigger _100_updated_at before update on app.memberships for each row execute function app.tg_set_updated_at();
alter table app.memberships enable row level security;
alter table app.memberships force row level security;
-- The shop's staff list, plus a user's own memberships (to switch shops).
create policy memberships_current on app.memberships for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()) or user_id = (select app.current_user_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, user_id, role), update (role), delete on app.memberships to pigeon_api;
grant select on app.memberships to pigeon_worker;

alter table app.users enable row level security;
alter table app.users force row level security;
create policy users_self_or_staff on app.users for all to pigeon_api, pigeon_worker
  using (
    id = (select app.current_user_id())
    or exists (
      select 1 from app.memberships m
      where m.user_id = users.id and m.shop_id = (select app.current_shop_id())
    )
  )
  with check (id = (select app.current_user_id()));
grant select, insert (id, email, password_hash), update (email, password_hash) on app.users to pigeon_api;
grant select on app.users to pigeon_worker;

------------------------------------------------------------------------------
-- shop_settings: one row per shop.
create table app.shop_settings (
  shop_id uuid primary key references app.shops (id) on delete cascade,
  timezone text not null default 'UTC' check (length(timezone) between 1 and 64),
  quiet_hours_start time not null default '21:00',
  quiet_hours_end time not null default '08:00',
  retention_days integer not null default 730 check (retention_days between 30 and 3650),
  sender_name text check (length(sender_name) between 1 and 11),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger _100_updated_at before update on app.shop_settings for each row execute function app.tg_set_updated_at();
alter table app.shop_settings enable row level security;
alter table app.shop_settings force row level security;
create policy shop_settings_current on app.shop_settings for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select,
  insert (shop_id, timezone, quiet_hours_start, quiet_hours_end, retention_days, sender_name),
  update (timezone, quiet_hours_start, quiet_hours_end, retention_days, sender_name)
  on app.shop_settings to pigeon_api;
grant select on app.shop_settings to pigeon_worker;

------------------------------------------------------------------------------
-- audit_events: append-only. Run-time roles may insert and read, never update or delete.
create table app.audit_events (
  id uuid primary key default gen_random_uuid(),
  -- Null for events with no shop (a failed login for an unknown email).
  shop_id uuid references app.shops (id) on delete cascade,
  user_id uuid,
  action text not null check (action ~ '^[a-z][a-z0-9_.]{1,63}$'),
  resource_type text check (length(resource_type) <= 64),
  resource_id text check (length(resource_id) <= 128),
  result text not null check (result in ('success', 'failure', 'denied')),
  ip_hash text check (length(ip_hash) <= 128),
  user_agent text check (length(user_agent) <= 512),
  request_id text check (length(request_id) <= 128),
  metadata jsonb not null default '{}' check (pg_column_size(metadata) <= 8192),
  created_at timestamptz not null default now()
);
-- The primary key on id alone is allowlisted in the RLS report: random UUIDs reveal nothing.
create index audit_events_shop_created_idx on app.audit_events (shop_id, created_at desc, id);
alter table app.audit_events enable row level security;
alter table app.audit_events force row level security;
-- Shop-less events can be written by anyone in any context, read by no run-time role.
create policy audit_events_read on app.audit_events for select to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()));
create policy audit_events_append on app.audit_events for insert to pigeon_api, pigeon_worker
  with check (shop_id is not distinct from (select app.current_shop_id()));
grant select,
  insert (shop_id, user_id, action, resource_type, resource_id, result, ip_hash, user_agent, request_id, metadata)
  on app.audit_events to pigeon_api, pigeon_worker;

------------------------------------------------------------------------------
-- Jobs. graphile-worker requires its run-time role to own its schema, so the schema
-- belongs to pigeon_worker (the owner role is a member of pigeon_worker for exactly this).
-- Its bootstrap table is created here, as pigeon_worker, because graphile-worker's own
-- bootstrap runs "create schema if not exists", which needs CREATE on the database;
-- with the table present it skips straight to its migrations, which stay in its schema.
create schema graphile_worker authorization pigeon_worker;
set local role pigeon_worker;
create table graphile_worker.migrations (
  id int primary key,
  ts timestamptz default now() not null,
  breaking boolean not null default false
);
reset role;

-- The API adds jobs only through this wrapper. It runs as pigeon_worker (owner of the
-- graphile_worker schema) and refuses a payload whose shopId is not the current shop, so a
-- request can never enqueue work for another tenant.
create function app_private.add_job(
  identifier text,
  payload jsonb,
  queue_name text default null,
  run_at timestamptz default null,
  max_attempts integer default null,
  job_key text default null,
  priority integer default null,
  job_key_mode text default 'replace'
) returns bigint
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_job_id bigint;
begin
  if v_shop is null then
    raise exception 'add_job needs a current shop' using errcode = 'PGNSH';
  end if;
  if payload is null or jsonb_typeof(payload) <> 'object' or payload->>'shopId' is distinct from v_shop::text then
    raise exception 'job payload shopId must be the current shop' using errcode = 'PGJSH';
  end if;
  select j.id into v_job_id from graphile_worker.add_job(
    identifier => identifier,
    payload => payload::json,
    queue_name => queue_name,
    run_at => run_at,
    max_attempts => max_attempts,
    job_key => job_key,
    priority => priority,
    job_key_mode => job_key_mode
  ) j;
  return v_job_id;
end
$$;
revoke all on function app_private.add_job(text, jsonb, text, timestamptz, integer, text, integer, text) from public;
grant execute on function app_private.add_job(text, jsonb, text, timestamptz, integer, text, integer, text) to pigeon_api, pigeon_worker;
-- Ownership moves to the schema's owner; CREATE on app_private is needed for the
-- transfer only and is taken back at once.
grant create on schema app_private to pigeon_worker;
alter function app_private.add_job(text, jsonb, text, timestamptz, integer, text, integer, text) owner to pigeon_worker;
revoke create on schema app_private from pigeon_worker;
