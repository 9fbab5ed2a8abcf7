-- CSV imports. The upload is streamed into chunks (no whole file in memory anywhere) in the
-- same transaction that creates the import and adds its job; the job parses the chunks in
-- order and commits each batch of rows together with its checkpoint (the last line done),
-- so a crash or retry resumes after the checkpoint and never applies a line twice. Chunks
-- are deleted when the import finishes.
create type app.import_status as enum ('queued', 'running', 'completed', 'failed');

create table app.contact_imports (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  status app.import_status not null default 'queued',
  -- The client's file name, for display only (never a path).
  file_name text check (length(file_name) <= 255),
  bytes bigint not null default 0 check (bytes >= 0),
  mapping jsonb not null default '{}' check (jsonb_typeof(mapping) = 'object'),
  default_consent app.consent_state not null default 'never',
  rows_total integer check (rows_total >= 0),
  rows_read integer not null default 0,
  inserted integer not null default 0,
  updated integer not null default 0,
  skipped integer not null default 0,
  failed integer not null default 0,
  checkpoint_line integer not null default 1,
  error text check (length(error) <= 500),
  created_by uuid,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  primary key (shop_id, id)
);
create index contact_imports_shop_created_idx on app.contact_imports (shop_id, created_at);
alter table app.contact_imports enable row level security;
alter table app.contact_imports force row level security;
create policy contact_imports_current on app.contact_imports for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, id, file_name, bytes, mapping, default_consent, rows_total, created_by), update (bytes, rows_total) on app.contact_imports to pigeon_api;
grant select, update (status, rows_read, inserted, updated, skipped, failed, checkpoint_line, error, started_at, finished_at) on app.contact_imports to pigeon_worker;

create table app.contact_import_chunks (
  shop_id uuid not null,
  import_id uuid not null,
  seq integer not null check (seq >= 0),
  data bytea not null,
  primary key (shop_id, import_id, seq),
  foreign key (shop_id, import_id) references app.contact_imports (shop_id, id) on delete cascade
);
alter table app.contact_import_chunks enable row level security;
alter table app.contact_import_chunks force row level security;
create policy contact_import_chunks_current on app.contact_import_chunks for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant insert on app.contact_import_chunks to pigeon_api;
grant select, delete on app.contact_import_chunks to pigeon_worker;

create table app.contact_import_errors (
  shop_id uuid not null,
  import_id uuid not null,
  line integer not null,
  reason text not null check (length(reason) <= 200),
  raw text check (length(raw) <= 4096),
  primary key (shop_id, import_id, line),
  foreign key (shop_id, import_id) references app.contact_imports (shop_id, id) on delete cascade
);
alter table app.contact_import_errors enable row level security;
alter table app.contact_import_errors force row level security;
create policy contact_import_errors_current on app.contact_import_errors for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select on app.contact_import_errors to pigeon_api;
grant select, insert on app.contact_import_errors to pigeon_worker;
