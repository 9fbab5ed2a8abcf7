-- The prepaid credit wallet: a balance and a reservation per shop, and an append-only
-- ledger. Both change only together, inside one of the two functions below (run-time roles
-- can read the tables but write neither), under a lock on the wallet row. Every ledger
-- entry has an idempotency key unique per shop: a retried job, a replayed webhook or a
-- repeated request applies once. CHECKs keep balance >= 0 and 0 <= reserved <= balance
-- whatever any code does.

create type app.credit_entry_kind as enum ('purchase', 'reserve', 'release', 'debit', 'refund', 'adjustment');

create table app.wallets (
  shop_id uuid primary key references app.shops (id) on delete cascade,
  balance bigint not null default 0,
  reserved bigint not null default 0,
  updated_at timestamptz not null default now(),
  check (balance >= 0),
  check (reserved >= 0 and reserved <= balance)
);
alter table app.wallets enable row level security;
alter table app.wallets force row level security;
create policy wallets_current on app.wallets for select to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()));
create policy wallets_ledger_functions on app.wallets for all to pigeon_owner
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select on app.wallets to pigeon_api, pigeon_worker;

create table app.credit_ledger (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id bigint generated always as identity,
  kind app.credit_entry_kind not null,
  -- Signed effect on the balance (purchase/refund +, debit -, adjustment ±) or, for
  -- reserve/release, the amount moved into / out of the reservation.
  credits bigint not null check (credits <> 0),
  balance_after bigint not null check (balance_after >= 0),
  reserved_after bigint not null check (reserved_after >= 0),
  idempotency_key text not null check (length(idempotency_key) between 1 and 200),
  reference_type text check (reference_type ~ '^[a-z_]{1,32}$'),
  reference_id text check (length(reference_id) <= 100),
  reason text check (length(reason) <= 500),
  actor_id uuid,
  created_at timestamptz not null default now(),
  primary key (shop_id, id),
  unique (shop_id, idempotency_key)
);
create index credit_ledger_shop_created_idx on app.credit_ledger (shop_id, created_at, id);
alter table app.credit_ledger enable row level security;
alter table app.credit_ledger force row level security;
create policy credit_ledger_current on app.credit_ledger for select to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()));
create policy credit_ledger_functions on app.credit_ledger for all to pigeon_owner
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select on app.credit_ledger to pigeon_api, pigeon_worker;

-- One entry. Returns the entry and whether it was a replay of an earlier one with the same
-- key (then nothing changed). A key reused for a different entry raises PGIDM; an entry the
-- wallet cannot cover raises PGINS (HTTP 402) and changes nothing.
create function app_private.apply_credit_entry(
  p_kind app.credit_entry_kind,
  p_credits bigint,
  p_idempotency_key text,
  p_reference_type text default null,
  p_reference_id text default null,
  p_reason text default null,
  p_actor_id uuid default null
) returns table (entry_id bigint, replayed boolean, balance bigint, reserved bigint)
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_existing app.credit_ledger%rowtype;
  v_balance bigint;
  v_reserved bigint;
  v_signed bigint;
  v_id bigint;
begin
  if v_shop is null then
    raise exception 'apply_credit_entry needs a current shop' using errcode = 'PGNSH';
  end if;
  if p_credits is null or p_credits <= 0 and p_kind <> 'adjustment' or p_credits = 0 then
    raise exception 'credits must be positive (adjustments: non-zero)' using errcode = 'PGLED';
  end if;
  insert into app.wallets (shop_id) values (v_shop) on conflict do nothing;
  select w.balance, w.reserved into v_balance, v_reserved from app.wallets w where w.shop_id = v_shop for update;

  select * into v_existing from app.credit_ledger l where l.shop_id = v_shop and l.idempotency_key = p_idempotency_key;
  if found then
    v_signed := case when p_kind = 'debit' then -p_credits else p_credits end;
    if v_existing.kind <> p_kind or v_existing.credits <> v_signed then
      raise exception 'idempotency key reused for a different entry' using errcode = 'PGIDM';
    end if;
    return query select v_existing.id, true, v_balance, v_reserved;
    return;
  end if;

  case p_kind
    when 'purchase', 'refund' then
      v_signed := p_credits;
      v_balance := v_balance + p_credits;
    when 'adjustment' then
      v_signed := p_credits;
      if v_balance + p_credits < v_reserved then
        raise exception 'the adjustment would leave less than is reserved' using errcode = 'PGINS';
      end if;
      v_balance := v_balance + p_credits;
    when 'reserve' then
      v_signed := p_credits;
      if v_balance - v_reserved < p_credits then
        raise exception 'not enough available credits' using errcode = 'PGINS';
      end if;
      v_reserved := v_reserved + p_credits;
    when 'release' then
      v_signed := p_credits;
      if v_reserved < p_credits then
        raise exception 'release exceeds the reservation' using errcode = 'PGLED';
      end if;
      v_reserved := v_reserved - p_credits;
    when 'debit' then
      -- Spends reserved credits: both the reservation and the balance go down.
      v_signed := -p_credits;
      if v_reserved < p_credits then
        raise exception 'debit exceeds the reservation' using errcode = 'PGINS';
      end if;
      v_reserved := v_reserved - p_credits;
      v_balance := v_balance - p_credits;
  end case;

  insert into app.credit_ledger (shop_id, kind, credits, balance_after, reserved_after, idempotency_key, reference_type, reference_id, reason, actor_id)
  values (v_shop, p_kind, v_signed, v_balance, v_reserved, p_idempotency_key, p_reference_type, p_reference_id, p_reason, p_actor_id)
  returning id into v_id;
  update app.wallets w set balance = v_balance, reserved = v_reserved, updated_at = now() where w.shop_id = v_shop;
  return query select v_id, false, v_balance, v_reserved;
end
$$;

-- A send batch's debits: one ledger entry per recipient (key 'debit:<campaign>:<recipient>',
-- so a retried batch debits nobody twice) and one wallet update for the batch. Returns the
-- credits actually debited now (0 when every entry existed already).
create function app_private.debit_recipients(p_campaign_id uuid, p_recipient_ids bigint[], p_credits integer[])
  returns bigint
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_balance bigint;
  v_reserved bigint;
  v_total bigint;
begin
  if v_shop is null then
    raise exception 'debit_recipients needs a current shop' using errcode = 'PGNSH';
  end if;
  if cardinality(p_recipient_ids) <> cardinality(p_credits) then
    raise exception 'one credit amount per recipient' using errcode = 'PGLED';
  end if;
  insert into app.wallets (shop_id) values (v_shop) on conflict do nothing;
  select w.balance, w.reserved into v_balance, v_reserved from app.wallets w where w.shop_id = v_shop for update;

  -- New entries only: under the wallet lock no other transaction adds them meanwhile.
  select coalesce(sum(v.credits), 0) into v_total
    from unnest(p_recipient_ids, p_credits) as v(rid, credits)
   where v.credits > 0
     and not exists (select 1 from app.credit_ledger l where l.shop_id = v_shop and l.idempotency_key = 'debit:' || p_campaign_id || ':' || v.rid);
  if v_total = 0 then
    return 0;
  end if;
  if v_reserved < v_total then
    raise exception 'debit exceeds the reservation' using errcode = 'PGINS';
  end if;
  insert into app.credit_ledger (shop_id, kind, credits, balance_after, reserved_after, idempotency_key, reference_type, reference_id, reason)
  select v_shop, 'debit', -f.credits, v_balance - f.running, v_reserved - f.running, f.key, 'campaign_recipient', p_campaign_id || ':' || f.rid, 'message sent'
    from (select v.rid, v.credits, 'debit:' || p_campaign_id || ':' || v.rid as key,
                 sum(v.credits) over (order by v.ord) as running, v.ord
            from unnest(p_recipient_ids, p_credits) with ordinality as v(rid, credits, ord)
           where v.credits > 0
             and not exists (select 1 from app.credit_ledger l where l.shop_id = v_shop and l.idempotency_key = 'debit:' || p_campaign_id || ':' || v.rid)) f
   order by f.ord;
  update app.wallets w set balance = v_balance - v_total, reserved = v_reserved - v_total, updated_at = now() where w.shop_id = v_shop;
  return v_total;
end
$$;

revoke all on function app_private.apply_credit_entry(app.credit_entry_kind, bigint, text, text, text, text, uuid),
  app_private.debit_recipients(uuid, bigint[], integer[]) from public;
grant execute on function app_private.apply_credit_entry(app.credit_entry_kind, bigint, text, text, text, text, uuid),
  app_private.debit_recipients(uuid, bigint[], integer[]) to pigeon_api, pigeon_worker;
