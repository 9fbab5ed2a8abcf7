-- GET /api/v1/me/security-events: a user reads their own account's security events (failed
-- sign-ins, lockouts, refresh-token reuse, session revocations). Those rows have no shop
-- (they belong to the account, whatever shop it is in), so until now no run-time role could
-- read them. This policy shows the API a shop-less row only to the user it is about, in a
-- transaction that set app.user_id (withUser); shop rows stay behind audit_events_read.
create policy audit_events_read_own_account on app.audit_events for select to pigeon_api
  using (shop_id is null and user_id = (select app.current_user_id()));

-- The list is one user's shop-less events, newest first, paged by (created_at, id).
create index audit_events_account_created_idx on app.audit_events (user_id, created_at desc, id)
  where shop_id is null;
