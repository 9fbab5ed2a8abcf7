-- Credit purchases: a shop buying a package. The row copies the package's credits, price
-- and currency at purchase time (a later price change never alters a purchase), and
-- records the Stripe objects Pigeon itself created for it: the Checkout Session id (stored
-- when Stripe returns it) and, once paid, its payment intent. Ownership checks compare
-- what Stripe reports with these stored ids, never with ids a client or metadata claims.
--
-- Money moves only through the ledger: the purchase's credit is one 'purchase' entry keyed
-- by the purchase id (webhook, confirm and reconciler may race; one entry wins), and a
-- refund or lost dispute takes credits back with reverse_credits below, never below zero:
-- what could not be taken back (already spent) is recorded as the shortfall.
create type app.purchase_status as enum ('pending', 'paid', 'failed', 'expired', 'refunded', 'partially_refunded', 'disputed');

create table app.credit_purchases (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  package_id text not null references app.credit_packages (id),
  provider text not null default 'stripe' check (provider in ('stripe', 'shopify')),
  credits integer not null check (credits > 0),
  amount_minor bigint not null check (amount_minor > 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  status app.purchase_status not null default 'pending',
  stripe_session_id text check (length(stripe_session_id) between 1 and 255),
  stripe_payment_intent_id text check (length(stripe_payment_intent_id) between 1 and 255),
  checkout_url text check (length(checkout_url) <= 2048),
  checkout_expires_at timestamptz,
  receipt_url text check (length(receipt_url) <= 2048),
  -- Cumulative refunded amount as Stripe last reported it (events may arrive in any order).
  amount_refunded_minor bigint not null default 0 check (amount_refunded_minor >= 0),
  credits_reversed integer not null default 0 check (credits_reversed >= 0),
  -- Credits a refund or lost dispute should have taken back but could not (already spent).
  credit_shortfall integer not null default 0 check (credit_shortfall >= 0),
  dispute_id text check (length(dispute_id) between 1 and 255),
  dispute_status text check (dispute_status in ('open', 'won', 'lost')),
  failure_reason text check (length(failure_reason) <= 200),
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  paid_at timestamptz,
  primary key (shop_id, id),
  unique (shop_id, stripe_session_id),
  unique (shop_id, stripe_payment_intent_id)
);
create index credit_purchases_shop_created_idx on app.credit_purchases (shop_id, created_at desc, id desc);
-- The reconciler's scan: pending purchases, oldest first.
create index credit_purchases_pending_idx on app.credit_purchases (shop_id, created_at) where status = 'pending';
alter table app.credit_purchases enable row level security;
alter table app.credit_purchases force row level security;
create policy credit_purchases_current on app.credit_purchases for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select,
  insert (shop_id, id, package_id, provider, credits, amount_minor, currency, created_by),
  update (status, stripe_session_id, stripe_payment_intent_id, checkout_url, checkout_expires_at, receipt_url,
          amount_refunded_minor, credits_reversed, credit_shortfall, dispute_id, dispute_status, failure_reason, updated_at, paid_at)
  on app.credit_purchases to pigeon_api, pigeon_worker;

-- One Stripe customer per shop, created once and remembered.
create table app.stripe_customers (
  shop_id uuid primary key references app.shops (id) on delete cascade,
  customer_id text not null check (customer_id ~ '^cus_[A-Za-z0-9]{1,250}$'),
  created_at timestamptz not null default now()
);
alter table app.stripe_customers enable row level security;
alter table app.stripe_customers force row level security;
create policy stripe_customers_current on app.stripe_customers for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, customer_id) on app.stripe_customers to pigeon_api, pigeon_worker;

-- Takes back up to p_credits of the current shop's credits for a refund or a lost dispute:
-- only what is neither spent nor reserved for a running campaign (balance - reserved), so
-- the balance never goes below zero and no campaign loses its reservation. Returns what it
-- took and what it could not (the shortfall). Keyed: the same key again takes nothing more
-- and answers as the first time. Nothing to take: no ledger entry (entries are non-zero).
alter type app.credit_entry_kind add value if not exists 'refund_reversal';
create table app_private.credit_reversals (
  shop_id uuid not null references app.shops (id) on delete cascade,
  idempotency_key text not null check (length(idempotency_key) between 1 and 200),
  wanted bigint not null check (wanted > 0),
  taken bigint not null check (taken >= 0),
  created_at timestamptz not null default now(),
  primary key (shop_id, idempotency_key)
);
alter table app_private.credit_reversals enable row level security;
alter table app_private.credit_reversals force row level security;
create policy credit_reversals_functions on app_private.credit_reversals for all to pigeon_owner
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));

create function app_private.reverse_credits(p_credits bigint, p_idempotency_key text, p_reference_type text, p_reference_id text, p_reason text)
  returns table (taken bigint, shortfall bigint, replayed boolean)
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_balance bigint;
  v_reserved bigint;
  v_done app_private.credit_reversals%rowtype;
  v_taken bigint;
begin
  if v_shop is null then
    raise exception 'reverse_credits needs a current shop' using errcode = 'PGNSH';
  end if;
  if p_credits is null or p_credits <= 0 then
    raise exception 'credits must be positive' using errcode = 'PGLED';
  end if;
  insert into app.wallets (shop_id) values (v_shop) on conflict do nothing;
  select w.balance, w.reserved into v_balance, v_reserved from app.wallets w where w.shop_id = v_shop for update;
  select * into v_done from app_private.credit_reversals r where r.shop_id = v_shop and r.idempotency_key = p_idempotency_key;
  if found then
    return query select v_done.taken, v_done.wanted - v_done.taken, true;
    return;
  end if;
  v_taken := greatest(0, least(p_credits, v_balance - v_reserved));
  insert into app_private.credit_reversals (shop_id, idempotency_key, wanted, taken) values (v_shop, p_idempotency_key, p_credits, v_taken);
  if v_taken > 0 then
    insert into app.credit_ledger (shop_id, kind, credits, balance_after, reserved_after, idempotency_key, reference_type, reference_id, reason)
    values (v_shop, 'refund_reversal', -v_taken, v_balance - v_taken, v_reserved, p_idempotency_key, p_reference_type, p_reference_id, p_reason);
    update app.wallets w set balance = v_balance - v_taken, updated_at = now() where w.shop_id = v_shop;
  end if;
  return query select v_taken, p_credits - v_taken, false;
end
$$;
revoke all on function app_private.reverse_credits(bigint, text, text, text, text) from public;
grant execute on function app_private.reverse_credits(bigint, text, text, text, text) to pigeon_api, pigeon_worker;

-- The one cross-tenant read of purchases: which shop's purchase a Stripe object belongs
-- to (the webhook job and the reconciler know only Stripe's ids). By our stored ids only.
create policy credit_purchases_owner_read on app.credit_purchases for select to pigeon_owner using (true);
create function app_private.purchase_for_stripe(p_session_id text, p_payment_intent_id text, p_purchase_id uuid)
  returns table (shop_id uuid, purchase_id uuid)
  language sql stable security definer
  set search_path = ''
  as $$
    select p.shop_id, p.id from app.credit_purchases p
     where p.provider = 'stripe'
       and ((p_session_id is not null and p.stripe_session_id = p_session_id)
         or (p_payment_intent_id is not null and p.stripe_payment_intent_id = p_payment_intent_id)
         or (p_purchase_id is not null and p.id = p_purchase_id))
     order by (p.stripe_session_id = p_session_id) desc nulls last
     limit 1
  $$;
-- Purchases still pending after p_older_than: the reconciler asks Stripe about each.
create function app_private.stale_pending_purchases(p_older_than timestamptz, p_limit integer)
  returns table (shop_id uuid, purchase_id uuid)
  language sql stable security definer
  set search_path = ''
  as $$
    select p.shop_id, p.id from app.credit_purchases p
     where p.status = 'pending' and p.provider = 'stripe' and p.created_at < p_older_than
     order by p.created_at
     limit p_limit
  $$;
revoke all on function app_private.purchase_for_stripe(text, text, uuid), app_private.stale_pending_purchases(timestamptz, integer) from public;
grant execute on function app_private.purchase_for_stripe(text, text, uuid), app_private.stale_pending_purchases(timestamptz, integer) to pigeon_worker;
