-- Two holes found in review:
--
-- 1. memberships_current was FOR ALL with USING (current shop OR my own rows). DELETE checks
--    USING only, so a user could delete their membership in shop B while acting in shop A
--    (or with no shop at all), and leave B without an owner. Reading stays as it was (a
--    user lists their shops to switch); every write is confined to the current shop.
drop policy memberships_current on app.memberships;
create policy memberships_read on app.memberships for select to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()) or user_id = (select app.current_user_id()));
create policy memberships_insert on app.memberships for insert to pigeon_api, pigeon_worker
  with check (shop_id = (select app.current_shop_id()));
create policy memberships_update on app.memberships for update to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
create policy memberships_delete on app.memberships for delete to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()));

-- 2. graphile-worker's job keys and queue names are global. Through the wrapper a request
--    for shop A could name shop B's job key (and replace B's pending job) or B's queue (and
--    hold it up). The wrapper now scopes both to the current shop: callers pass keys that
--    are unique within their shop, and the stored key is '<shop id>:<key>'.
create or replace function app_private.add_job(
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
    queue_name => case when queue_name is null then null else v_shop::text || ':' || queue_name end,
    run_at => run_at,
    max_attempts => max_attempts,
    job_key => case when job_key is null then null else v_shop::text || ':' || job_key end,
    priority => priority,
    job_key_mode => job_key_mode
  ) j;
  return v_job_id;
end
$$;
