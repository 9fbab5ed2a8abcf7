-- Retention: the cron job finds every shop (a cross-tenant read that must exist) and each
-- shop's job purges its audit events older than the shop's retention setting.
--
-- These functions run as pigeon_owner. The tables FORCE row level security, so even the
-- owner sees nothing without a policy: the narrow policies below are granted to
-- pigeon_owner alone, and pigeon_owner is never used by a running server; only these
-- security definer functions act with them.

create policy shops_maintenance_read on app.shops for select to pigeon_owner using (true);
create policy audit_events_retention_read on app.audit_events for select to pigeon_owner using (true);
create policy audit_events_retention_delete on app.audit_events for delete to pigeon_owner using (true);

-- Ids only: a maintenance job never needs more than which shops exist.
create function app_private.shop_ids_for_maintenance() returns setof uuid
  language sql stable security definer
  set search_path = ''
  as $$ select id from app.shops order by id $$;
revoke all on function app_private.shop_ids_for_maintenance() from public;
grant execute on function app_private.shop_ids_for_maintenance() to pigeon_worker;

-- Deletes the current shop's audit events created before p_before; nothing without a shop.
create function app_private.purge_audit_events(p_before timestamptz) returns integer
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_count integer;
begin
  if v_shop is null then
    raise exception 'purge_audit_events needs a current shop' using errcode = 'PGNSH';
  end if;
  delete from app.audit_events where shop_id = v_shop and created_at < p_before;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function app_private.purge_audit_events(timestamptz) from public;
grant execute on function app_private.purge_audit_events(timestamptz) to pigeon_worker;
