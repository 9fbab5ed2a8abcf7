-- Functions are executable by PUBLIC when created. 0001's "alter default privileges in
-- schema ... revoke" cannot take away that global default (per-schema defaults only add),
-- so the functions it created kept PUBLIC EXECUTE; sql/rls_report.sql found them.
revoke execute on function app.current_shop_id(), app.current_user_id(), app.tg_set_updated_at() from public;
-- And for every function the owner creates from now on, in any schema.
alter default privileges for role pigeon_owner revoke execute on functions from public;
