-- Jobs that are never lost and workers that die without holding their jobs.
--
-- 1. A keyed add_job can be lost. graphile-worker 0.17's add_jobs first clears the key of a
--    LOCKED job with the same key (so a running job's stale view of the world gets a
--    successor), then upserts with `on conflict (key) do update … where locked_at is null`.
--    A worker that locks the job between those two statements makes the upsert update
--    nothing and insert nothing: add_job returns no row and the request is gone. That was
--    the campaign whose finishing dispatch never came (the last batch's request raced the
--    dispatch being picked up). Trying again is correct: the second time the first
--    statement sees the job locked, clears its key, and the insert creates the successor.
--    test/jobs-recovery.test.ts forces the interleaving with a row lock it observes.
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
  v_try integer := 0;
begin
  if v_shop is null then
    raise exception 'add_job needs a current shop' using errcode = 'PGNSH';
  end if;
  if payload is null or jsonb_typeof(payload) <> 'object' or payload->>'shopId' is distinct from v_shop::text then
    raise exception 'job payload shopId must be the current shop' using errcode = 'PGJSH';
  end if;
  loop
    v_try := v_try + 1;
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
    exit when v_job_id is not null or v_try >= 5;
  end loop;
  if v_job_id is null then
    raise exception 'add_job could not add % (key %)', identifier, job_key using errcode = 'PGJOB';
  end if;
  return v_job_id;
end
$$;
revoke all on function app_private.add_job(text, jsonb, text, timestamptz, integer, text, integer, text) from public;
grant execute on function app_private.add_job(text, jsonb, text, timestamptz, integer, text, integer, text) to pigeon_api, pigeon_worker;

-- 2. Worker heartbeats. graphile-worker releases a crashed worker's jobs only after 4 hours
--    (crash recovery is not in its open-source edition). Every worker process writes a
--    heartbeat for its worker pool id (the jobs' locked_by) every few seconds; a job locked
--    by an id whose heartbeat is older than WORKER_HEARTBEAT_TIMEOUT_SECONDS is released
--    with graphile-worker's public force_unlock_workers (src/jobs/worker-heartbeat.ts). Not
--    tenant data: one row per worker process, readable and writable by the worker role only.
create table app_private.worker_heartbeats (
  worker_id text primary key check (length(worker_id) between 1 and 128),
  process text not null check (length(process) <= 200),
  started_at timestamptz not null default now(),
  seen_at timestamptz not null default now()
);
create index worker_heartbeats_seen_idx on app_private.worker_heartbeats (seen_at);
alter table app_private.worker_heartbeats enable row level security;
alter table app_private.worker_heartbeats force row level security;
create policy worker_heartbeats_worker on app_private.worker_heartbeats for all to pigeon_worker using (true) with check (true);
grant usage on schema app_private to pigeon_worker;
grant select, insert (worker_id, process, started_at, seen_at), update (seen_at), delete on app_private.worker_heartbeats to pigeon_worker;
