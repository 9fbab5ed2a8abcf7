-- A refused reserve or adjustment (PGINS, HTTP 402) now says by how much: the exception's
-- DETAIL is {"creditsNeeded": n, "creditsAvailable": m} (JSON), which src/db/errors.ts turns
-- into the 402's details (API.md: `details` is {"creditsNeeded", "creditsAvailable"}).
-- The function is otherwise 0030's, unchanged; its grants and owner stay.
create or replace function app_private.apply_credit_entry(
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
        raise exception 'the adjustment would leave less than is reserved' using errcode = 'PGINS',
          detail = json_build_object('creditsNeeded', -p_credits, 'creditsAvailable', v_balance - v_reserved)::text;
      end if;
      v_balance := v_balance + p_credits;
    when 'reserve' then
      v_signed := p_credits;
      if v_balance - v_reserved < p_credits then
        raise exception 'not enough available credits' using errcode = 'PGINS',
          detail = json_build_object('creditsNeeded', p_credits, 'creditsAvailable', v_balance - v_reserved)::text;
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
