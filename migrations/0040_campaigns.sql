-- Campaigns, their recipients and messages, and the shop settings the send path obeys.
--
-- A campaign moves draft → scheduled | queued → sending → sent | failed | cancelled, each
-- move an UPDATE … WHERE status = <expected> (src/modules/campaigns/state.ts), so two
-- concurrent moves cannot both happen. Recipients are inserted by the enqueue with one
-- INSERT … SELECT from the audience; they hold no PII (the contact's phone and name are
-- read at send time, so a deleted contact's history keeps only ids).

create type app.campaign_status as enum ('draft', 'scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled');

alter table app.shop_settings
  -- Kill switch: while true the send task sends nothing (batches wait and retry).
  add column sending_paused boolean not null default false,
  -- At most this many campaign messages per contact per rolling 24 hours (0 = no cap).
  add column frequency_cap_per_day integer not null default 3 check (frequency_cap_per_day between 0 and 100),
  -- The opt-out instruction appended to a body that has none ({{unsubscribe}} renders it).
  add column opt_out_text text not null default 'Reply STOP to opt out' check (length(opt_out_text) between 1 and 100),
  -- The number the provider sends from and receives replies on (inbound STOP/START find the shop by it).
  add column sms_number text unique check (sms_number ~ '^\+[1-9][0-9]{6,14}$');
grant update (sending_paused, frequency_cap_per_day, opt_out_text, sms_number) on app.shop_settings to pigeon_api;
-- 08:00–21:00 sending window by default (the columns hold the quiet period).

create table app.campaigns (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  body text not null check (length(body) between 1 and 1600),
  segment_id uuid,
  template_id uuid,
  discount_code text check (length(discount_code) between 1 and 64),
  status app.campaign_status not null default 'draft',
  scheduled_at timestamptz,
  queued_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  cancelled_at timestamptz,
  failure_reason text check (length(failure_reason) <= 200),
  recipients_total integer not null default 0 check (recipients_total >= 0),
  -- Credits reserved at enqueue, and how much of that reservation was spent or released.
  credits_reserved bigint not null default 0 check (credits_reserved >= 0),
  credits_spent bigint not null default 0 check (credits_spent >= 0),
  credits_released bigint not null default 0 check (credits_released >= 0),
  reservation_expires_at timestamptz,
  -- Send batches added and not yet finished (the dispatch keeps a window of them per campaign).
  batches_in_flight integer not null default 0 check (batches_in_flight >= 0),
  dispatch_cursor bigint not null default 0,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (shop_id, id),
  foreign key (shop_id, segment_id) references app.segments (shop_id, id) on delete restrict
);
create index campaigns_shop_created_idx on app.campaigns (shop_id, created_at, id);
create index campaigns_status_idx on app.campaigns (status, shop_id) where status in ('scheduled', 'queued', 'sending');
create trigger _100_updated_at before update on app.campaigns for each row execute function app.tg_set_updated_at();
alter table app.campaigns enable row level security;
alter table app.campaigns force row level security;
create policy campaigns_current on app.campaigns for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, delete,
  insert (shop_id, id, name, body, segment_id, template_id, discount_code, scheduled_at, created_by),
  update (name, body, segment_id, template_id, discount_code, status, scheduled_at, queued_at, started_at, finished_at, cancelled_at,
          failure_reason, recipients_total, credits_reserved, credits_spent, credits_released, reservation_expires_at, batches_in_flight, dispatch_cursor)
  on app.campaigns to pigeon_api, pigeon_worker;

create type app.recipient_status as enum ('queued', 'sending', 'sent', 'delivered', 'failed', 'skipped', 'cancelled');

create table app.campaign_recipients (
  shop_id uuid not null,
  campaign_id uuid not null,
  id bigint generated always as identity,
  contact_id uuid not null,
  status app.recipient_status not null default 'queued',
  skip_reason text check (skip_reason in ('unsubscribed', 'quiet_hours', 'frequency_cap', 'contact_deleted', 'invalid_number', 'insufficient_credits', 'cancelled')),
  attempts integer not null default 0 check (attempts between 0 and 1000),
  segments integer check (segments between 0 and 100),
  credits integer check (credits between 0 and 1000),
  provider_message_id text check (length(provider_message_id) <= 128),
  error_code text check (length(error_code) <= 64),
  updated_at timestamptz not null default now(),
  primary key (shop_id, campaign_id, id),
  -- One message per contact per campaign; a contact is one phone number per shop.
  unique (shop_id, campaign_id, contact_id)
  -- No foreign keys here, on purpose: rows are written only by the enqueue's INSERT … SELECT
  -- from this shop's contacts into this shop's campaign (RLS WITH CHECK keeps the shop),
  -- contacts are never deleted (a deletion is a tombstone), and only drafts, which have no
  -- recipients, can be deleted. Two FK checks per row cost more than the insert itself at a
  -- million recipients (bench:enqueue); the send path joins on (shop_id, contact_id).
);
-- No index on status: the send path walks recipients by id (the primary key) and a status
-- index tempted the planner, on a freshly enqueued campaign, into reading every queued
-- recipient and sorting them for each batch (bench:send fell from ~1,000 to ~150 messages/s
-- between 20,000 and 100,000 recipients). Metrics count by status over the key range.
create index campaign_recipients_contact_idx on app.campaign_recipients (shop_id, contact_id);
alter table app.campaign_recipients enable row level security;
alter table app.campaign_recipients force row level security;
create policy campaign_recipients_current on app.campaign_recipients for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, campaign_id, contact_id, status, skip_reason),
  update (status, skip_reason, attempts, segments, credits, provider_message_id, error_code, updated_at)
  on app.campaign_recipients to pigeon_api, pigeon_worker;

-- Send batches: a contiguous range of recipient ids, one sms_send_batch job each. The
-- dispatch keeps a window of pending batches per campaign (fairness between shops: no
-- campaign floods the job queue), and a batch is done once every recipient in it is final.
create table app.campaign_batches (
  shop_id uuid not null,
  campaign_id uuid not null,
  id bigint generated always as identity,
  first_recipient_id bigint not null,
  last_recipient_id bigint not null check (last_recipient_id >= first_recipient_id),
  status text not null default 'pending' check (status in ('pending', 'done')),
  created_at timestamptz not null default now(),
  done_at timestamptz,
  primary key (shop_id, campaign_id, id),
  foreign key (shop_id, campaign_id) references app.campaigns (shop_id, id) on delete cascade
);
create index campaign_batches_pending_idx on app.campaign_batches (shop_id, campaign_id) where status = 'pending';
alter table app.campaign_batches enable row level security;
alter table app.campaign_batches force row level security;
create policy campaign_batches_current on app.campaign_batches for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select on app.campaign_batches to pigeon_api;
grant select, insert (shop_id, campaign_id, first_recipient_id, last_recipient_id), update (status, done_at) on app.campaign_batches to pigeon_worker;

-- One row per message the provider accepted: exactly one per recipient, whatever retries did.
create table app.messages (
  shop_id uuid not null,
  id uuid not null default gen_random_uuid(),
  campaign_id uuid not null,
  recipient_id bigint not null,
  contact_id uuid not null,
  provider_message_id text not null check (length(provider_message_id) <= 128),
  status text not null default 'sent' check (status in ('sent', 'delivered', 'failed', 'undelivered')),
  segments integer not null check (segments between 1 and 100),
  encoding text not null check (encoding in ('GSM-7', 'UCS-2')),
  credits integer not null check (credits between 0 and 1000),
  error_code text check (length(error_code) <= 64),
  sent_at timestamptz not null default now(),
  status_at timestamptz,
  refunded_at timestamptz,
  primary key (shop_id, id),
  unique (shop_id, recipient_id),
  unique (shop_id, provider_message_id)
  -- No foreign key to campaign_recipients: rows are written only by the send batch for the
  -- recipients it has just claimed. The per-row RI check is a cached plan that Postgres may
  -- build while the recipients table is still small (a sequential scan) and keep for the
  -- session: bench:send then slowed with every recipient added.
);
create index messages_contact_sent_idx on app.messages (shop_id, contact_id, sent_at);
create index messages_campaign_idx on app.messages (shop_id, campaign_id, status);
alter table app.messages enable row level security;
alter table app.messages force row level security;
create policy messages_current on app.messages for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
-- The API takes delivery reports (webhooks): status and refunds.
grant select, update (status, error_code, status_at, refunded_at) on app.messages to pigeon_api;
grant select, insert (shop_id, campaign_id, recipient_id, contact_id, provider_message_id, segments, encoding, credits),
  update (status, error_code, status_at, refunded_at)
  on app.messages to pigeon_worker;

------------------------------------------------------------------------------
-- Provider webhooks. They carry no shop: the shop is found from the message (delivery
-- reports) or the receiving number (inbound), through the two functions below. Event ids
-- are remembered (30 days) so that a replayed webhook changes nothing.
create table app.provider_events (
  event_id text primary key check (length(event_id) between 1 and 128),
  kind text not null check (kind in ('status', 'inbound')),
  received_at timestamptz not null default now()
);
create index provider_events_received_idx on app.provider_events (received_at);
alter table app.provider_events enable row level security;
alter table app.provider_events force row level security;
create policy provider_events_owner on app.provider_events for all to pigeon_owner using (true) with check (true);

-- True the first time an event id is seen, false for a replay.
create function app_private.remember_provider_event(p_event_id text, p_kind text) returns boolean
  language sql volatile security definer
  set search_path = ''
  as $$
    with fresh as (insert into app.provider_events (event_id, kind) values (p_event_id, p_kind) on conflict do nothing returning 1)
    select exists (select 1 from fresh)
  $$;

create policy messages_owner_read on app.messages for select to pigeon_owner using (true);
create function app_private.shop_for_provider_message(p_provider_message_id text) returns uuid
  language sql stable security definer
  set search_path = ''
  as $$ select m.shop_id from app.messages m where m.provider_message_id = p_provider_message_id limit 1 $$;

create policy shop_settings_owner_read on app.shop_settings for select to pigeon_owner using (true);
create function app_private.shop_for_sms_number(p_number text) returns uuid
  language sql stable security definer
  set search_path = ''
  as $$ select s.shop_id from app.shop_settings s where s.sms_number = p_number $$;

create function app_private.provider_events_sweep() returns integer
  language sql volatile security definer
  set search_path = ''
  as $$ with gone as (delete from app.provider_events where received_at < now() - interval '30 days' returning 1) select count(*)::integer from gone $$;

revoke all on function app_private.remember_provider_event(text, text), app_private.shop_for_provider_message(text),
  app_private.shop_for_sms_number(text), app_private.provider_events_sweep() from public;
grant execute on function app_private.remember_provider_event(text, text), app_private.shop_for_provider_message(text),
  app_private.shop_for_sms_number(text) to pigeon_api;
grant execute on function app_private.provider_events_sweep() to pigeon_worker;

-- Inbound messages: what a contact texted back (STOP, START, HELP, …), as a keyword only.
create table app.inbound_messages (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  event_id text not null check (length(event_id) between 1 and 128),
  contact_id uuid,
  keyword text not null check (keyword in ('stop', 'start', 'help', 'other')),
  received_at timestamptz not null default now(),
  primary key (shop_id, id),
  unique (shop_id, event_id),
  foreign key (shop_id, contact_id) references app.contacts (shop_id, id)
);
alter table app.inbound_messages enable row level security;
alter table app.inbound_messages force row level security;
create policy inbound_messages_current on app.inbound_messages for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, event_id, contact_id, keyword, received_at) on app.inbound_messages to pigeon_api;
grant select on app.inbound_messages to pigeon_worker;

-- The reconciler's list (worker only): campaigns that should be moving, and finished ones
-- that still hold part of their reservation.
create policy campaigns_reconcile_read on app.campaigns for select to pigeon_owner using (true);
create function app_private.campaigns_to_reconcile() returns table (shop_id uuid, id uuid)
  language sql stable security definer
  set search_path = ''
  as $$
    select c.shop_id, c.id from app.campaigns c
     where c.status in ('scheduled', 'queued', 'sending')
        or (c.status in ('sent', 'failed', 'cancelled') and c.credits_reserved > c.credits_spent + c.credits_released)
     order by c.shop_id, c.id
  $$;
revoke all on function app_private.campaigns_to_reconcile() from public;
grant execute on function app_private.campaigns_to_reconcile() to pigeon_worker;
