-- Delivery reports that arrive before their message is recorded.
--
-- A send batch records its messages after all of its provider calls; a provider reports
-- within milliseconds. A report whose message row is not committed yet has no shop to go
-- to: it is kept here (it was answered 200 and dropped before) and applied when the row
-- appears: by the batch right after its recording commits, by the webhook itself if the
-- row appeared meanwhile, or by the reconciler. Taking a report deletes it, so only one of
-- them applies it, and the refund inside is once-only by its ledger key anyway.
create table app.early_delivery_reports (
  event_id text primary key check (length(event_id) between 1 and 128),
  provider_message_id text not null check (length(provider_message_id) between 1 and 128),
  status text not null check (status in ('delivered', 'failed', 'undelivered')),
  error_code text check (length(error_code) <= 64),
  occurred_at timestamptz,
  received_at timestamptz not null default now()
);
create index early_delivery_reports_message_idx on app.early_delivery_reports (provider_message_id);
create index early_delivery_reports_received_idx on app.early_delivery_reports (received_at);
alter table app.early_delivery_reports enable row level security;
alter table app.early_delivery_reports force row level security;
create policy early_delivery_reports_owner on app.early_delivery_reports for all to pigeon_owner using (true) with check (true);

-- True when stored, false for a replay of a report already stored.
create function app_private.store_early_delivery_report(p_event_id text, p_provider_message_id text, p_status text, p_error_code text, p_occurred_at timestamptz)
  returns boolean
  language sql volatile security definer
  set search_path = ''
  as $$
    with fresh as (
      insert into app.early_delivery_reports (event_id, provider_message_id, status, error_code, occurred_at)
      values (p_event_id, p_provider_message_id, p_status, p_error_code, p_occurred_at)
      on conflict do nothing returning 1)
    select exists (select 1 from fresh)
  $$;

-- Takes (deletes and returns) the stored reports of the given messages, but only of
-- messages of the current shop: a shop can never take another shop's reports.
create function app_private.take_early_delivery_reports(p_provider_message_ids text[])
  returns table (event_id text, provider_message_id text, status text, error_code text, occurred_at timestamptz)
  language sql volatile security definer
  set search_path = ''
  as $$
    delete from app.early_delivery_reports r
     where r.provider_message_id = any(p_provider_message_ids)
       and exists (select 1 from app.messages m
                    where m.shop_id = (select app.current_shop_id()) and m.provider_message_id = r.provider_message_id)
    returning r.event_id, r.provider_message_id, r.status, r.error_code, r.occurred_at
  $$;

-- For the reconciler: stored reports whose message now exists, by shop.
create function app_private.early_delivery_reports_ready(p_limit integer)
  returns table (shop_id uuid, provider_message_id text)
  language sql stable security definer
  set search_path = ''
  as $$
    select distinct m.shop_id, r.provider_message_id
      from app.early_delivery_reports r
      join app.messages m on m.provider_message_id = r.provider_message_id
     limit least(greatest(p_limit, 1), 10000)
  $$;

-- Reports for messages that never appeared (a provider's mistake, another account's id)
-- are kept 30 days, like provider event ids.
create function app_private.early_delivery_reports_sweep() returns integer
  language sql volatile security definer
  set search_path = ''
  as $$ with gone as (delete from app.early_delivery_reports where received_at < now() - interval '30 days' returning 1) select count(*)::integer from gone $$;

revoke all on function app_private.store_early_delivery_report(text, text, text, text, timestamptz), app_private.take_early_delivery_reports(text[]),
  app_private.early_delivery_reports_ready(integer), app_private.early_delivery_reports_sweep() from public;
grant execute on function app_private.store_early_delivery_report(text, text, text, text, timestamptz) to pigeon_api;
grant execute on function app_private.take_early_delivery_reports(text[]) to pigeon_api, pigeon_worker;
grant execute on function app_private.early_delivery_reports_ready(integer), app_private.early_delivery_reports_sweep() to pigeon_worker;
-- The worker applies reports too (after a batch commits, and in the reconciler).
grant execute on function app_private.remember_provider_event(text, text) to pigeon_worker;
