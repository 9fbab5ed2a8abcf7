-- Idempotency keys (API.md: `Idempotency-Key` on every POST that creates or spends). Per
-- shop: the first request claims the key ('running'); its response is stored when it ends
-- and replayed for 24 hours to a retry with the same body. A claim whose request died (a
-- crash between claim and response) can be taken over after locked_until.
create table app.idempotency_keys (
  shop_id uuid not null references app.shops (id) on delete cascade,
  key text not null check (key ~ '^[\x21-\x7e]{1,255}$'),
  -- SHA-256 of method, route, params and canonical body: a different request under the same key is a 422.
  request_hash bytea not null check (length(request_hash) = 32),
  state text not null default 'running' check (state in ('running', 'done')),
  response_status integer check (response_status between 100 and 599),
  response_content_type text check (length(response_content_type) <= 200),
  response_body text check (length(response_body) <= 65536),
  created_at timestamptz not null default now(),
  locked_until timestamptz not null,
  expires_at timestamptz not null,
  primary key (shop_id, key)
);
create index idempotency_keys_expires_idx on app.idempotency_keys (shop_id, expires_at);
alter table app.idempotency_keys enable row level security;
alter table app.idempotency_keys force row level security;
create policy idempotency_keys_current on app.idempotency_keys for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, delete,
  insert (shop_id, key, request_hash, locked_until, expires_at),
  update (request_hash, state, response_status, response_content_type, response_body, locked_until, expires_at)
  on app.idempotency_keys to pigeon_api;

-- Cron: expired keys of every shop, in one statement (worker only).
create policy idempotency_keys_sweep on app.idempotency_keys for delete to pigeon_owner using (true);
create policy idempotency_keys_sweep_read on app.idempotency_keys for select to pigeon_owner using (true);
create function app_private.idempotency_sweep() returns integer
  language sql volatile security definer
  set search_path = ''
  as $$
    with gone as (delete from app.idempotency_keys where expires_at < now() returning 1)
    select count(*)::integer from gone
  $$;
revoke all on function app_private.idempotency_sweep() from public;
grant execute on function app_private.idempotency_sweep() to pigeon_worker;
