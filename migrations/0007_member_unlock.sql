-- Unlocking an account is done by an owner or admin of a shop the account belongs to. The
-- users policy only lets a user write their own row, so this one narrow function does it:
-- it clears the lock only when the user is a member of the current shop.
create policy users_unlock on app.users for update to pigeon_owner using (true) with check (true);

create function app_private.unlock_member(p_user_id uuid) returns boolean
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_shop uuid := app.current_shop_id();
  v_count integer;
begin
  if v_shop is null then
    raise exception 'unlock_member needs a current shop' using errcode = 'PGNSH';
  end if;
  update app.users u set failed_login_count = 0, locked_until = null
   where u.id = p_user_id
     and exists (select 1 from app.memberships m where m.user_id = u.id and m.shop_id = v_shop);
  get diagnostics v_count = row_count;
  return v_count > 0;
end
$$;
revoke all on function app_private.unlock_member(uuid) from public;
grant execute on function app_private.unlock_member(uuid) to pigeon_api;
