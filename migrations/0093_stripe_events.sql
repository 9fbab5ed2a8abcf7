-- Stripe webhook events. The webhook verifies the signature, then in ONE transaction records
-- the event (its id is the primary key: a replay inserts nothing and changes nothing) and
-- adds the job that applies it; it answers 200 at once. Only the fields the settlement reads
-- are kept (ids, amounts, statuses), never the customer's name, e-mail or address.
--
-- Not tenant data when it arrives: the shop is known only once the event is matched to a
-- purchase by our stored Stripe ids. The run-time roles reach the table only through the
-- functions below. Status:
--   pending  recorded, its job not done yet
--   applied  matched to a purchase and applied (the shop and purchase are recorded)
--   waiting  its purchase is not known yet (a refund before the payment was recorded):
--            kept, and applied when the purchase records that payment intent, or by the
--            reconciler; never dropped
--   ignored  another Stripe account's or mode's event, a type Pigeon does not handle, or
--            one that no purchase of ours matches after the reconciler looked
create table app.stripe_events (
  id text primary key check (id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
  type text not null check (length(type) between 1 and 100),
  stripe_created_at timestamptz not null,
  received_at timestamptz not null default clock_timestamp(),
  status text not null default 'pending' check (status in ('pending', 'applied', 'waiting', 'ignored')),
  session_id text check (length(session_id) <= 255),
  payment_intent_id text check (length(payment_intent_id) <= 255),
  -- What the settlement reads (amounts, statuses, ids); see src/modules/billing/stripe-event.ts.
  data jsonb not null check (jsonb_typeof(data) = 'object' and pg_column_size(data) <= 8192),
  -- Not a tenant key (the table is no tenant's): the shop the event was applied to, for operators.
  applied_shop_id uuid references app.shops (id) on delete set null,
  purchase_id uuid,
  note text check (length(note) <= 200),
  settled_at timestamptz
);
create index stripe_events_waiting_idx on app.stripe_events (payment_intent_id) where status = 'waiting';
create index stripe_events_received_idx on app.stripe_events (received_at);
alter table app.stripe_events enable row level security;
alter table app.stripe_events force row level security;
create policy stripe_events_functions on app.stripe_events for all to pigeon_owner using (true) with check (true);

-- The one place a stripe_event_apply job (and its key) is made.
-- (plpgsql: its body is bound when it runs, after graphile-worker has installed its schema.)
create function app_private.add_stripe_event_job(p_event_id text) returns void
  language plpgsql volatile security definer
  set search_path = ''
  as $$
begin
  perform graphile_worker.add_job('stripe_event_apply', json_build_object('eventId', p_event_id),
    job_key => 'stripe-event:' || p_event_id, max_attempts => 25);
end
$$;

-- Records a verified event; true the first time its id is seen. An event recorded as
-- ignored gets no job.
create function app_private.record_stripe_event(
  p_id text, p_type text, p_created timestamptz, p_session_id text, p_payment_intent_id text,
  p_data jsonb, p_ignored_because text
) returns boolean
  language plpgsql volatile security definer
  set search_path = ''
  as $$
begin
  insert into app.stripe_events (id, type, stripe_created_at, session_id, payment_intent_id, data, status, note, settled_at)
  values (p_id, p_type, p_created, p_session_id, p_payment_intent_id, p_data,
          case when p_ignored_because is null then 'pending' else 'ignored' end, p_ignored_because,
          case when p_ignored_because is null then null else clock_timestamp() end)
  on conflict (id) do nothing;
  if not found then
    return false;
  end if;
  if p_ignored_because is null then
    perform app_private.add_stripe_event_job(p_id);
  end if;
  return true;
end
$$;

create function app_private.stripe_event(p_id text)
  returns table (id text, type text, stripe_created_at timestamptz, received_at timestamptz, status text, session_id text, payment_intent_id text, data jsonb)
  language sql stable security definer
  set search_path = ''
  as $$ select e.id, e.type, e.stripe_created_at, e.received_at, e.status, e.session_id, e.payment_intent_id, e.data from app.stripe_events e where e.id = p_id $$;

-- Settles an event, in the transaction that applied it. 'applied' records the current
-- shop and the purchase; a settled event is never moved back to pending.
create function app_private.settle_stripe_event(p_id text, p_status text, p_purchase_id uuid, p_note text) returns void
  language sql volatile security definer
  set search_path = ''
  as $$
    update app.stripe_events e
       set status = p_status, note = p_note, purchase_id = p_purchase_id,
           applied_shop_id = case when p_status = 'applied' then app.current_shop_id() else e.applied_shop_id end,
           settled_at = clock_timestamp()
     where e.id = p_id and e.status in ('pending', 'waiting')
  $$;

-- A purchase just recorded its payment intent: the events that were waiting for it get
-- their jobs again, in the same transaction.
create function app_private.wake_stripe_events(p_payment_intent_id text) returns integer
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_id text;
  v_count integer := 0;
begin
  for v_id in select e.id from app.stripe_events e where e.status = 'waiting' and e.payment_intent_id = p_payment_intent_id loop
    update app.stripe_events e set status = 'pending' where e.id = v_id;
    perform app_private.add_stripe_event_job(v_id);
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;

-- For the reconciler: events still waiting (their payment intents to ask Stripe about), and
-- events still pending long after they arrived (their job was lost or gave up).
create function app_private.unsettled_stripe_events(p_older_than timestamptz, p_limit integer)
  returns table (id text, status text, payment_intent_id text, received_at timestamptz)
  language sql stable security definer
  set search_path = ''
  as $$
    select e.id, e.status, e.payment_intent_id, e.received_at from app.stripe_events e
     where e.status in ('pending', 'waiting') and e.received_at < p_older_than
     order by e.received_at limit p_limit
  $$;
create function app_private.requeue_stripe_event(p_id text) returns void
  language plpgsql volatile security definer
  set search_path = ''
  as $$
begin
  if exists (select 1 from app.stripe_events e where e.id = p_id and e.status = 'pending') then
    perform app_private.add_stripe_event_job(p_id);
  end if;
end
$$;

-- Kept 90 days: far longer than Stripe's 3 days of redelivery, so a replay is always a no-op.
create function app_private.stripe_events_sweep() returns integer
  language sql volatile security definer
  set search_path = ''
  as $$ with gone as (delete from app.stripe_events where received_at < now() - interval '90 days' and status in ('applied', 'ignored') returning 1) select count(*)::integer from gone $$;

revoke all on function app_private.add_stripe_event_job(text), app_private.record_stripe_event(text, text, timestamptz, text, text, jsonb, text),
  app_private.stripe_event(text), app_private.settle_stripe_event(text, text, uuid, text), app_private.wake_stripe_events(text),
  app_private.unsettled_stripe_events(timestamptz, integer), app_private.requeue_stripe_event(text), app_private.stripe_events_sweep() from public;
grant execute on function app_private.record_stripe_event(text, text, timestamptz, text, text, jsonb, text) to pigeon_api;
grant execute on function app_private.wake_stripe_events(text) to pigeon_api, pigeon_worker;
grant execute on function app_private.stripe_event(text), app_private.settle_stripe_event(text, text, uuid, text),
  app_private.unsettled_stripe_events(timestamptz, integer), app_private.requeue_stripe_event(text), app_private.stripe_events_sweep() to pigeon_worker;
