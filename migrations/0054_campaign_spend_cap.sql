-- A campaign never spends more than it reserved.
--
-- The enqueue reserves the cost of each recipient's message with the names it had then; the
-- send renders with the names it has now, and a longer (or non-GSM) name costs more
-- segments. The debit used to be checked only against the whole wallet's reservation, so
-- one campaign could spend another's reserved credits (whose final release then failed).
-- Now a batch commits each recipient's cost to its campaign when it claims them
-- (credits_committed: claimed by recipients being sent, not yet final), and only while
-- spent + committed stays within the campaign's reservation. A costlier batch first reserves
-- the difference from the credits still available (reserve_available below); a recipient
-- that does not fit even so is skipped as insufficient_credits. Other campaigns'
-- reservations are never touched.
alter table app.campaigns add column credits_committed bigint not null default 0 check (credits_committed >= 0);
grant update (credits_committed) on app.campaigns to pigeon_api, pigeon_worker;

-- Reserves up to p_credits of the shop's available credits (balance - reserved) and returns
-- how many it reserved (0 when none are available). One ledger entry under the key.
create function app_private.reserve_available(p_credits bigint, p_idempotency_key text, p_reference_type text, p_reference_id text, p_reason text)
  returns bigint
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_balance bigint;
  v_reserved bigint;
  v_amount bigint;
  v_existing bigint;
begin
  if v_shop is null then
    raise exception 'reserve_available needs a current shop' using errcode = 'PGNSH';
  end if;
  if p_credits is null or p_credits <= 0 then
    raise exception 'credits must be positive' using errcode = 'PGLED';
  end if;
  insert into app.wallets (shop_id) values (v_shop) on conflict do nothing;
  select w.balance, w.reserved into v_balance, v_reserved from app.wallets w where w.shop_id = v_shop for update;
  select l.credits into v_existing from app.credit_ledger l where l.shop_id = v_shop and l.idempotency_key = p_idempotency_key and l.kind = 'reserve';
  if found then
    return v_existing;
  end if;
  v_amount := least(p_credits, v_balance - v_reserved);
  if v_amount <= 0 then
    return 0;
  end if;
  insert into app.credit_ledger (shop_id, kind, credits, balance_after, reserved_after, idempotency_key, reference_type, reference_id, reason)
  values (v_shop, 'reserve', v_amount, v_balance, v_reserved + v_amount, p_idempotency_key, p_reference_type, p_reference_id, p_reason);
  update app.wallets w set reserved = v_reserved + v_amount, updated_at = now() where w.shop_id = v_shop;
  return v_amount;
end
$$;
revoke all on function app_private.reserve_available(bigint, text, text, text, text) from public;
grant execute on function app_private.reserve_available(bigint, text, text, text, text) to pigeon_worker;
