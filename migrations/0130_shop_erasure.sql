-- shop/redact (Shopify's mandatory compliance topic, 48 hours after an uninstall): a shop's
-- personal data is erased in bulk. The contacts module redacts every contact (as a single
-- deletion does) and the consent evidence's PII in one statement each, and forgets the
-- shop's suppressed phones; the shop row records when it happened. What is kept (the
-- ledger, the audit log, campaign rows and counts, consent hashes) holds no personal data:
-- README "Personal data" lists it.
alter table app.shops add column personal_data_erased_at timestamptz;
grant update (personal_data_erased_at) on app.shops to pigeon_worker;
grant delete on app.suppressed_phones to pigeon_worker;

create function app_private.redact_shop_consent_pii() returns integer
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_count integer;
begin
  if v_shop is null then
    raise exception 'redact_shop_consent_pii needs a current shop' using errcode = 'PGNSH';
  end if;
  update app.consent_events set pii_phone = null, pii_salt = null
   where shop_id = v_shop and (pii_phone is not null or pii_salt is not null);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function app_private.redact_shop_consent_pii() from public;
grant execute on function app_private.redact_shop_consent_pii() to pigeon_worker;
