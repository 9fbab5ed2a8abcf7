-- Shopify webhooks (POST /webhooks/shopify). The route verifies X-Shopify-Hmac-Sha256, then
-- in ONE statement records the webhook, keyed by X-Shopify-Webhook-Id (Shopify's retries keep
-- it: a redelivery inserts nothing and changes nothing), and adds the job that applies it;
-- it answers 200 at once (Shopify waits 5 seconds).
--
-- Not tenant data when it arrives: the shop is resolved here from X-Shopify-Shop-Domain, and
-- a webhook for an unknown shop is recorded (so its retries are no-ops) but never applied.
-- Run-time roles reach the table only through the functions below. Status:
--   pending   recorded, its job not done yet
--   applied   applied in the shop's transaction (its payload erased then)
--   ignored   an unknown shop, or a shop that uninstalled (except the compliance topics, which
--             arrive after an uninstall); payload never kept
--   received  a topic with no handler yet (customers/*, orders/*, the compliance topics):
--             kept as it came, no job, for the handler that a later change adds to pick up
--             within the retention below; after it the backfill covers what was missed
--
-- Personal data: the payload of customers/orders topics holds names, phones, e-mails and
-- addresses. It is stored only so the (coming) handlers can apply it, capped in size, and is
-- erased ('{}') when the webhook is applied or ignored; whatever is still here is deleted
-- with the row by the daily sweep (shopify_webhooks_sweep), 8 days after triggered_at.
--
-- Retention: 8 days after triggered_at, longer than the longest replay horizon the route
-- accepts (SHOPIFY_WEBHOOK_MAX_AGE_HOURS, at most 168 h), so a replay inside the horizon always
-- finds its record. Pending rows (their job not done) are kept 30 days.

-- The shop's uninstall: set by the app/uninstalled webhook's job, cleared by a reinstall.
-- shopify_installed_at is the last (re)install: Shopify does not order deliveries, so an
-- app/uninstalled triggered before it (a late retry after a reinstall) changes nothing.
alter table app.shops add column uninstalled_at timestamptz, add column shopify_installed_at timestamptz;
grant update (uninstalled_at, shopify_installed_at) on app.shops to pigeon_api;
grant update (uninstalled_at) on app.shops to pigeon_worker;

create table app.shopify_webhooks (
  webhook_id text primary key check (webhook_id ~ '^[A-Za-z0-9._:-]{1,100}$'),
  topic text not null check (topic ~ '^[a-z0-9_]+(/[a-z0-9_]+)+$' and length(topic) <= 100),
  shop_domain text not null check (shop_domain ~ '^[a-z0-9][a-z0-9-]*\.myshopify\.com$' and length(shop_domain) <= 255),
  -- Not a tenant key (the table is no tenant's): the shop the domain named when it arrived.
  target_shop_id uuid references app.shops (id) on delete set null,
  triggered_at timestamptz not null,
  received_at timestamptz not null default clock_timestamp(),
  status text not null check (status in ('pending', 'applied', 'ignored', 'received')),
  payload jsonb not null check (jsonb_typeof(payload) = 'object' and pg_column_size(payload) <= 1048576),
  note text check (length(note) <= 200),
  settled_at timestamptz
);
create index shopify_webhooks_triggered_idx on app.shopify_webhooks (triggered_at);
create index shopify_webhooks_target_idx on app.shopify_webhooks (target_shop_id, topic) where status in ('pending', 'received');
alter table app.shopify_webhooks enable row level security;
alter table app.shopify_webhooks force row level security;
create policy shopify_webhooks_functions on app.shopify_webhooks for all to pigeon_owner using (true) with check (true);

-- The one place a shopify_webhook_apply job (and its key) is made.
-- (plpgsql: its body is bound when it runs, after graphile-worker has installed its schema.)
create function app_private.add_shopify_webhook_job(p_webhook_id text) returns void
  language plpgsql volatile security definer
  set search_path = ''
  as $$
begin
  perform graphile_worker.add_job('shopify_webhook_apply', json_build_object('webhookId', p_webhook_id),
    job_key => 'shopify-webhook:' || p_webhook_id, max_attempts => 25);
end
$$;

-- Records a verified webhook and, when it is to be applied, adds its job. Returns whether the
-- id was new and the status it got (a replay: false and the stored status). p_handled says
-- whether Pigeon has a handler for the topic yet.
create function app_private.record_shopify_webhook(
  p_webhook_id text, p_topic text, p_shop_domain text, p_triggered_at timestamptz, p_payload jsonb, p_handled boolean
) returns table (fresh boolean, status text)
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop_id uuid;
  v_uninstalled_at timestamptz;
  v_status text;
  v_note text;
begin
  select s.id, s.uninstalled_at into v_shop_id, v_uninstalled_at from app.shops s where s.shopify_domain = p_shop_domain;
  if v_shop_id is null then
    v_status := 'ignored'; v_note := 'no installed shop has this domain';
  elsif v_uninstalled_at is not null and p_topic not in ('shop/redact', 'customers/redact', 'customers/data_request') then
    v_status := 'ignored'; v_note := 'the shop has uninstalled the app';
  elsif p_handled then
    v_status := 'pending';
  else
    v_status := 'received'; v_note := 'no handler for this topic yet';
  end if;
  insert into app.shopify_webhooks as w (webhook_id, topic, shop_domain, target_shop_id, triggered_at, status, payload, note, settled_at)
  values (p_webhook_id, p_topic, p_shop_domain, v_shop_id, p_triggered_at, v_status,
          case when v_status = 'ignored' then '{}'::jsonb else p_payload end, v_note,
          case when v_status = 'ignored' then clock_timestamp() end)
  on conflict (webhook_id) do nothing;
  if not found then
    return query select false, w.status from app.shopify_webhooks w where w.webhook_id = p_webhook_id;
    return;
  end if;
  if v_status = 'pending' then
    perform app_private.add_shopify_webhook_job(p_webhook_id);
  end if;
  return query select true, v_status;
end
$$;

create function app_private.shopify_webhook(p_webhook_id text)
  returns table (webhook_id text, topic text, shop_id uuid, triggered_at timestamptz, status text, payload jsonb)
  language sql stable security definer
  set search_path = ''
  as $$ select w.webhook_id, w.topic, w.target_shop_id, w.triggered_at, w.status, w.payload from app.shopify_webhooks w where w.webhook_id = p_webhook_id $$;

-- Settles a pending webhook in the shop's transaction that applied it (the current shop must
-- be the one it named); its payload is erased. A settled webhook is never moved back.
create function app_private.settle_shopify_webhook(p_webhook_id text, p_status text, p_note text) returns boolean
  language plpgsql volatile security definer
  set search_path = ''
  as $$
begin
  if p_status not in ('applied', 'ignored') then
    raise exception 'a webhook settles as applied or ignored';
  end if;
  update app.shopify_webhooks w
     set status = p_status, note = p_note, payload = '{}'::jsonb, settled_at = clock_timestamp()
   where w.webhook_id = p_webhook_id and w.status = 'pending'
     and w.target_shop_id = (select app.current_shop_id());
  return found;
end
$$;

-- Daily: settled and unhandled webhooks go 8 days after they were triggered (longer than
-- any replay horizon), pending ones after 30 days.
create function app_private.shopify_webhooks_sweep() returns integer
  language sql volatile security definer
  set search_path = ''
  as $$
    with gone as (
      delete from app.shopify_webhooks w
       where (w.status <> 'pending' and w.triggered_at < now() - interval '8 days')
          or w.triggered_at < now() - interval '30 days'
      returning 1)
    select count(*)::integer from gone
  $$;

revoke all on function app_private.add_shopify_webhook_job(text),
  app_private.record_shopify_webhook(text, text, text, timestamptz, jsonb, boolean),
  app_private.shopify_webhook(text), app_private.settle_shopify_webhook(text, text, text),
  app_private.shopify_webhooks_sweep() from public;
grant execute on function app_private.record_shopify_webhook(text, text, text, timestamptz, jsonb, boolean) to pigeon_api;
grant execute on function app_private.shopify_webhook(text), app_private.settle_shopify_webhook(text, text, text),
  app_private.shopify_webhooks_sweep() to pigeon_worker;
