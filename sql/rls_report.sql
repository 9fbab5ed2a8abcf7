-- Row-level security report for Pigeon (DESIGN.md "Database roles").
--
-- How to run it (read-only: two SELECTs, nothing is changed):
--
--   psql "$DATABASE_URL" -f sql/rls_report.sql
--
-- Connect as a superuser or as pigeon_owner, to the Pigeon database. Plain SQL, no psql
-- meta-commands, so it also runs as one multi-statement query from a driver (the test
-- suite does that). Works on PostgreSQL 15 and 17. Two result sets:
--
--   1. INVENTORY: one row per table in the application schemas (app, app_private): owner,
--      tenant or not, RLS enabled / forced, every policy, and the privileges pigeon_api and
--      pigeon_worker actually hold on it (table-level and column-level).
--   2. FINDINGS: (check_name, object_name, detail), one row per problem, ordered. An empty
--      result means every check passed. test/rls-report.test.ts runs this file and fails
--      on any finding outside its allowlist (below).
--
-- The inventory is wide; to read it in a terminal:
--   psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -P pager=off -P expanded=auto -f sql/rls_report.sql
--
-- Words used below:
--   run-time roles  pigeon_api and pigeon_worker: the logins of the running processes.
--   tenant table    a table of app/app_private with a shop_id column, or app.shops itself
--                   (its id is the shop id). The "shop key" is shop_id, or id on app.shops.
--   graphile_worker and pigeon_migrations are not application schemas (graphile-worker's
--   own tables, the migration ledger); only PUBLIC's access to them is checked.
--
-- Findings that exist by design on the current migrations (test/rls-report.test.ts keeps
-- the same short allowlist, each entry with its reason):
--   fk_without_shop_id      app.memberships   memberships_user_id_fkey: users are global
--                                             identities (one person, several shops).
--   fk_without_shop_id      app.credit_purchases credit_purchases_package_id_fkey: credit
--                                             packages are one global catalogue.
--   unique_without_shop_id  app.shops         shops_shopify_domain_key: a Shopify domain
--                                             identifies one shop globally.
--   unique_without_shop_id  app.audit_events  audit_events_pkey: random server-made UUIDs;
--                                             shop_id is null for shop-less events.
-- Anything else is a real problem, or a new exception to argue for in review.
--
-- Privileges are read with has_table_privilege / has_column_privilege and friends, which
-- answer "can this role do it", whether the grant is direct, to PUBLIC, or to a role it
-- belongs to. Column-level grants (pg_attribute.attacl, what
-- information_schema.column_privileges shows) count: INSERT(col, ...) is still INSERT.

------------------------------------------------------------------------------------------
-- 1. INVENTORY
--
-- policies: one line per policy:
--   name: COMMAND to roles [restrictive] USING yes|no, WITH CHECK yes|no
-- pigeon_api / pigeon_worker: the privileges the role holds; a column list in brackets
--   means the privilege is granted on those columns only.
------------------------------------------------------------------------------------------
with runtime_roles as (
  select r.rolname, x.oid
  from (values ('pigeon_api'), ('pigeon_worker')) as r(rolname)
  left join pg_roles x on x.rolname = r.rolname
),
privileges (ord, priv, column_priv) as (
  -- column_priv: the privileges that can also be granted per column.
  values (1, 'SELECT', 'SELECT'), (2, 'INSERT', 'INSERT'), (3, 'UPDATE', 'UPDATE'),
         (4, 'DELETE', null), (5, 'TRUNCATE', null), (6, 'REFERENCES', 'REFERENCES'),
         (7, 'TRIGGER', null)
),
tables as (
  select c.oid, n.nspname, c.relname, c.relowner, c.relrowsecurity, c.relforcerowsecurity,
         (n.nspname, c.relname) = ('app', 'shops')
           or exists (select 1 from pg_attribute a
                      where a.attrelid = c.oid and a.attname = 'shop_id' and a.attnum > 0 and not a.attisdropped)
           as tenant_table
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('app', 'app_private') and c.relkind in ('r', 'p')
),
-- Per table and run-time role: "SELECT, INSERT(col,col), UPDATE(col), DELETE".
role_grants as (
  select t.oid, r.rolname,
         case when r.oid is null then '(role does not exist)' else coalesce((
           select string_agg(
                    case when has_table_privilege(r.oid, t.oid, pv.priv) then pv.priv
                         else pv.priv || '(' || (
                           select string_agg(quote_ident(a.attname), ',' order by a.attnum)
                           from pg_attribute a
                           where a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
                             and has_column_privilege(r.oid, t.oid, a.attnum, pv.column_priv)
                         ) || ')'
                    end,
                    ', ' order by pv.ord)
           from privileges pv
           where has_table_privilege(r.oid, t.oid, pv.priv)
              -- has_any_column_privilege(..., null) is null: DELETE etc. are table-level only.
              or has_any_column_privilege(r.oid, t.oid, pv.column_priv)
         ), '(none)') end as grants
  from tables t
  cross join runtime_roles r
)
select
  t.nspname as schema,
  t.relname as "table",
  pg_get_userbyid(t.relowner) as owner,
  t.tenant_table,
  t.relrowsecurity as rls_enabled,
  t.relforcerowsecurity as rls_forced,
  coalesce((
    select string_agg(format('%s: %s to %s%s USING %s, WITH CHECK %s',
             p.polname,
             case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE'
                           when 'd' then 'DELETE' else 'ALL' end,
             (select string_agg(x.name, ',' order by x.name)
              from unnest(p.polroles) as pr(oid)
              cross join lateral (select case when pr.oid = 0 then 'PUBLIC' else pg_get_userbyid(pr.oid)::text end) as x(name)),
             case when p.polpermissive then '' else ' [restrictive]' end,
             case when p.polqual is null then 'no' else 'yes' end,
             case when p.polwithcheck is null then 'no' else 'yes' end),
           E'\n' order by p.polname)
    from pg_policy p
    where p.polrelid = t.oid
  ), '(none)') as policies,
  api.grants as pigeon_api,
  worker.grants as pigeon_worker
from tables t
join role_grants api on api.oid = t.oid and api.rolname = 'pigeon_api'
join role_grants worker on worker.oid = t.oid and worker.rolname = 'pigeon_worker'
order by t.nspname, t.relname;

------------------------------------------------------------------------------------------
-- 2. FINDINGS
--
-- check_name                           what it means
-- rls_not_enabled                      A table in app/app_private without ENABLE ROW LEVEL
--                                      SECURITY: any grant on it, now or later, reads every row.
-- rls_not_forced                       A tenant table without FORCE ROW LEVEL SECURITY: its
--                                      owner (and so every SECURITY DEFINER function the
--                                      owner owns) skips the policies.
-- policy_missing_using_or_check        A tenant table with no policy at all; or a command a
--                                      run-time role is granted (SELECT, INSERT, UPDATE,
--                                      DELETE, also on tables like app.users that are guarded
--                                      per user) that no permissive policy applying to that
--                                      role covers: SELECT/UPDATE/DELETE need a USING, INSERT/
--                                      UPDATE need an explicit WITH CHECK. Also any FOR ALL /
--                                      FOR UPDATE policy without WITH CHECK: Postgres then
--                                      reuses USING as the check, but the design asks for it
--                                      to be written out. (SELECT + INSERT-with-check only, as
--                                      on the append-only app.audit_events, is complete.)
-- policy_without_role                  A policy TO PUBLIC (polroles = {0}): it applies to
--                                      every role, present and future. Name the roles.
-- unique_without_shop_id               A primary key, unique constraint, unique index or
--                                      exclusion constraint on a tenant table whose key
--                                      columns do not include the shop key. Such checks
--                                      bypass RLS, so a conflict reveals another shop's row.
--                                      INCLUDE columns do not count.
-- fk_without_shop_id                   A foreign key on a tenant table that does not include
--                                      the shop key, or whose shop_id does not point at the
--                                      referenced tenant table's shop key. FK checks bypass
--                                      RLS: a row could point at another shop's row.
-- no_index_led_by_shop_id              A tenant table (not app.shops) with no valid index whose
--                                      first column is shop_id: every policy filters on it.
-- security_definer_without_search_path A SECURITY DEFINER function or procedure, in any
--                                      schema except pg_catalog, information_schema, pg_toast
--                                      and temp schemas, without SET search_path: a caller
--                                      can redirect its unqualified names. Functions that
--                                      belong to an extension, and schemas an extension
--                                      created, are skipped; an extension's install schema
--                                      (public, for citext) is not, so a hand-made function
--                                      there is still checked.
-- view_without_security_invoker        A view in app/app_private without security_invoker =
--                                      true: it reads with its owner's rights, so RLS sees
--                                      the owner, not the caller. Materialized views are
--                                      reported too: RLS never applies to them.
-- runtime_role_bypasses_rls            pigeon_api or pigeon_worker is SUPERUSER or BYPASSRLS,
--                                      or is a member of a role that is, or of a role that
--                                      owns an application table (it could SET ROLE to it).
-- runtime_role_missing                 pigeon_api or pigeon_worker does not exist (every
--                                      other role check is then silently empty).
-- runtime_role_owns_table              pigeon_api or pigeon_worker owns a relation in app,
--                                      app_private or pigeon_migrations, or one of those
--                                      schemas; or pigeon_api owns anything in
--                                      graphile_worker. pigeon_worker owning graphile_worker
--                                      is by design. (app_private.add_job is a function, owned
--                                      by pigeon_worker on purpose; functions are not checked.)
-- runtime_role_forbidden_privilege     pigeon_api or pigeon_worker holds TRUNCATE, REFERENCES
--                                      (on any column) or TRIGGER on a relation in app/
--                                      app_private (also MAINTAIN on PostgreSQL 17), or
--                                      CREATE on app, app_private, pigeon_migrations or public.
-- public_privilege                     PUBLIC holds anything on a relation (or column) in app,
--                                      app_private, pigeon_migrations or graphile_worker;
--                                      EXECUTE on a function in app/app_private (a null proacl
--                                      is the default ACL, which includes PUBLIC EXECUTE);
--                                      USAGE/CREATE on app, app_private, pigeon_migrations,
--                                      graphile_worker; CREATE on schema public; or CONNECT /
--                                      TEMPORARY on this database (a null datacl means PUBLIC
--                                      has both; sql/roles.sql revokes them).
-- audit_events_mutable                 pigeon_api or pigeon_worker may UPDATE (any column) or
--                                      DELETE app.audit_events, which is append-only.
------------------------------------------------------------------------------------------
with
runtime_roles as (
  select oid, rolname, rolsuper, rolbypassrls
  from pg_roles
  where rolname in ('pigeon_api', 'pigeon_worker')
),
app_tables as (
  select c.oid, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) as name,
         c.relrowsecurity, c.relforcerowsecurity, c.relowner
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('app', 'app_private') and c.relkind in ('r', 'p')
),
-- Tenant tables and the column that carries the shop: shop_id, or id on app.shops.
tenant_tables as (
  select t.*, (t.nspname, t.relname) = ('app', 'shops') as is_shops, a.attnum as key_attnum, a.attname as key_name
  from app_tables t
  join pg_attribute a
    on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
   and a.attname = case when (t.nspname, t.relname) = ('app', 'shops') then 'id' else 'shop_id' end
  where (t.nspname, t.relname) = ('app', 'shops')
     or exists (select 1 from pg_attribute s
                where s.attrelid = t.oid and s.attname = 'shop_id' and s.attnum > 0 and not s.attisdropped)
),
commands (cmd, polcmd) as (
  values ('SELECT', 'r'), ('INSERT', 'a'), ('UPDATE', 'w'), ('DELETE', 'd')
),
-- What each run-time role may do on each application table (directly, via PUBLIC or via a
-- role it belongs to; column-level grants count).
granted as (
  select t.oid, t.name, r.oid as role_oid, r.rolname, c.cmd, c.polcmd
  from app_tables t
  cross join runtime_roles r
  cross join commands c
  where case c.cmd
          when 'DELETE' then has_table_privilege(r.oid, t.oid, 'DELETE')
          when 'SELECT' then has_any_column_privilege(r.oid, t.oid, 'SELECT')
          when 'INSERT' then has_any_column_privilege(r.oid, t.oid, 'INSERT')
          else has_any_column_privilege(r.oid, t.oid, 'UPDATE')
        end
),
-- Permissive policies, per role they apply to (TO PUBLIC, the role, or a role it is a
-- member of) and per command they cover (ALL covers every command). A restrictive policy
-- only narrows what permissive ones allow, so it never covers a command on its own.
applicable as (
  select p.polrelid as oid, r.oid as role_oid, c.cmd,
         p.polqual is not null as has_using, p.polwithcheck is not null as has_check
  from pg_policy p
  cross join runtime_roles r
  join commands c on p.polcmd in (c.polcmd, '*')
  where p.polpermissive
    and exists (select 1 from unnest(p.polroles) as pr(oid)
                where pr.oid = 0 or pg_has_role(r.oid, pr.oid, 'MEMBER'))
),
-- Roles a run-time role could SET ROLE to (or inherits from) that defeat RLS.
dangerous_memberships as (
  select r.rolname, m.rolname as member_of,
         case when m.rolsuper then 'a superuser'
              when m.rolbypassrls then 'a BYPASSRLS role'
              else 'the owner of application tables' end as why
  from runtime_roles r
  join pg_roles m on m.oid <> r.oid and pg_has_role(r.oid, m.oid, 'MEMBER')
  where m.rolsuper or m.rolbypassrls
     or exists (select 1 from app_tables t where t.relowner = m.oid)
),
findings (check_name, object_name, detail) as (
  select 'rls_not_enabled', name, 'row level security is not enabled'
  from app_tables
  where not relrowsecurity

  union all
  select 'rls_not_forced', name, 'tenant table without FORCE ROW LEVEL SECURITY: its owner skips the policies'
  from tenant_tables
  where not relforcerowsecurity

  union all
  select 'policy_missing_using_or_check', name, 'tenant table without any policy'
  from tenant_tables t
  where not exists (select 1 from pg_policy p where p.polrelid = t.oid)

  union all
  select 'policy_missing_using_or_check', g.name,
         format('%s may %s but no permissive policy for it has %s', g.rolname, g.cmd,
                case when g.cmd in ('SELECT', 'DELETE') then 'USING'
                     when g.cmd = 'INSERT' then 'WITH CHECK'
                     when not exists (select 1 from applicable a
                                      where a.oid = g.oid and a.role_oid = g.role_oid and a.cmd = g.cmd and a.has_using)
                       then 'USING'
                     else 'an explicit WITH CHECK' end)
  from granted g
  where (g.cmd in ('SELECT', 'UPDATE', 'DELETE')
         and not exists (select 1 from applicable a
                         where a.oid = g.oid and a.role_oid = g.role_oid and a.cmd = g.cmd and a.has_using))
     or (g.cmd in ('INSERT', 'UPDATE')
         and not exists (select 1 from applicable a
                         where a.oid = g.oid and a.role_oid = g.role_oid and a.cmd = g.cmd and a.has_check))

  union all
  select 'policy_missing_using_or_check', format('%s (policy %s)', t.name, p.polname),
         format('FOR %s policy without an explicit WITH CHECK (Postgres would reuse USING)',
                case p.polcmd when 'w' then 'UPDATE' else 'ALL' end)
  from app_tables t
  join pg_policy p on p.polrelid = t.oid
  where p.polcmd in ('*', 'w') and p.polwithcheck is null
    and (t.oid in (select oid from tenant_tables) or t.oid in (select oid from granted))

  union all
  select 'policy_without_role', format('%s (policy %s)', t.name, p.polname), 'policy applies TO PUBLIC; name the roles'
  from app_tables t
  join pg_policy p on p.polrelid = t.oid
  where 0::oid = any (p.polroles)

  union all
  select 'unique_without_shop_id', t.name,
         format('%I: %s', ic.relname, coalesce(pg_get_constraintdef(con.oid), pg_get_indexdef(i.indexrelid)))
  from tenant_tables t
  join pg_index i on i.indrelid = t.oid and (i.indisunique or i.indisexclusion)
  join pg_class ic on ic.oid = i.indexrelid
  left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = t.oid
  -- Key columns are indkey[0 .. indnkeyatts-1]; INCLUDE columns follow and do not count.
  where not exists (select 1 from generate_series(0, i.indnkeyatts - 1) as k(n) where i.indkey[k.n] = t.key_attnum)

  union all
  select 'fk_without_shop_id', t.name, format('%s: %s (%s)', con.conname, pg_get_constraintdef(con.oid), problem.reason)
  from tenant_tables t
  join pg_constraint con on con.conrelid = t.oid and con.contype = 'f'
  left join tenant_tables target on target.oid = con.confrelid
  cross join lateral (
    select case
             when not (t.key_attnum = any (con.conkey)) then format('does not include %I', t.key_name)
             when target.oid is not null
              and con.confkey[array_position(con.conkey, t.key_attnum)] <> target.key_attnum
               then format('%I does not reference %s.%I', t.key_name, target.name, target.key_name)
           end as reason
  ) problem
  where problem.reason is not null

  union all
  select 'no_index_led_by_shop_id', t.name, 'no valid index whose first column is shop_id'
  from tenant_tables t
  where not t.is_shops
    and not exists (select 1 from pg_index i
                    where i.indrelid = t.oid and i.indisvalid and i.indkey[0] = t.key_attnum)

  union all
  select 'security_definer_without_search_path',
         format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         format('SECURITY DEFINER (runs as %s) without SET search_path', pg_get_userbyid(p.proowner))
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  where p.prosecdef
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
    -- Members of an extension, and schemas an extension created, are the extension's.
    and not exists (select 1 from pg_depend d
                    where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
    and not exists (select 1 from pg_depend d
                    where d.classid = 'pg_namespace'::regclass and d.objid = n.oid and d.deptype = 'e')
    and not exists (select 1 from unnest(p.proconfig) as cfg(setting) where cfg.setting like 'search_path=%')

  union all
  select 'view_without_security_invoker', format('%I.%I', n.nspname, c.relname),
         case c.relkind
           when 'm' then 'materialized view: row level security never applies to it'
           else format('view runs with its owner''s (%s) rights; set security_invoker = true', pg_get_userbyid(c.relowner))
         end
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('app', 'app_private')
    and (c.relkind = 'm'
         or (c.relkind = 'v'
             and not coalesce((select o.option_value::boolean
                               from pg_options_to_table(c.reloptions) o
                               where o.option_name = 'security_invoker'), false)))

  union all
  select 'runtime_role_bypasses_rls', rolname,
         concat_ws(' and ', case when rolsuper then 'is a superuser' end, case when rolbypassrls then 'has BYPASSRLS' end)
  from runtime_roles
  where rolsuper or rolbypassrls

  union all
  select 'runtime_role_bypasses_rls', rolname, format('is a member of %s, %s', member_of, why)
  from dangerous_memberships

  union all
  select 'runtime_role_missing', r.rolname, 'role does not exist; the role checks cannot run'
  from (values ('pigeon_api'), ('pigeon_worker')) as r(rolname)
  where not exists (select 1 from runtime_roles x where x.rolname = r.rolname)

  union all
  select 'runtime_role_owns_table', format('%I.%I', n.nspname, c.relname),
         format('%s owned by %s', case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
                                                 when 'm' then 'materialized view' when 'S' then 'sequence'
                                                 when 'c' then 'composite type' when 'f' then 'foreign table'
                                                 else 'relation' end, r.rolname)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join runtime_roles r on r.oid = c.relowner
  where c.relkind not in ('i', 'I', 't')  -- indexes and TOAST follow their table's owner
    and (n.nspname in ('app', 'app_private', 'pigeon_migrations')
         or (n.nspname = 'graphile_worker' and r.rolname <> 'pigeon_worker'))

  union all
  select 'runtime_role_owns_table', n.nspname, format('schema owned by %s', r.rolname)
  from pg_namespace n
  join runtime_roles r on r.oid = n.nspowner
  where n.nspname in ('app', 'app_private', 'pigeon_migrations')
     or (n.nspname = 'graphile_worker' and r.rolname <> 'pigeon_worker')

  union all
  select 'runtime_role_forbidden_privilege', format('%I.%I', n.nspname, c.relname), format('%s has %s', r.rolname, pv.priv)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join runtime_roles r
  cross join (values ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) as pv(priv)
  where n.nspname in ('app', 'app_private') and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and case pv.priv
          when 'REFERENCES' then has_any_column_privilege(r.oid, c.oid, 'REFERENCES')
          when 'TRUNCATE' then has_table_privilege(r.oid, c.oid, 'TRUNCATE')
          else has_table_privilege(r.oid, c.oid, 'TRIGGER')
        end

  union all
  -- MAINTAIN (PostgreSQL 17: VACUUM, ANALYZE, REINDEX, LOCK TABLE ...). has_table_privilege
  -- would reject the word on 15, so the ACL is read instead; same result on 15 (never set).
  select 'runtime_role_forbidden_privilege', format('%I.%I', n.nspname, c.relname),
         format('%s has MAINTAIN (granted to %s)', r.rolname, case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) a
  cross join runtime_roles r
  where n.nspname in ('app', 'app_private') and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and a.privilege_type = 'MAINTAIN'
    and (a.grantee = 0 or pg_has_role(r.oid, a.grantee, 'USAGE'))

  union all
  select 'runtime_role_forbidden_privilege', n.nspname, format('%s has CREATE on the schema', r.rolname)
  from pg_namespace n
  cross join runtime_roles r
  where n.nspname in ('app', 'app_private', 'pigeon_migrations', 'public')
    and n.nspowner <> r.oid  -- an owner is reported as runtime_role_owns_table
    and has_schema_privilege(r.oid, n.oid, 'CREATE')

  union all
  -- A null ACL means the default one (acldefault): owner-only for tables and schemas.
  select 'public_privilege', format('%I.%I', n.nspname, c.relname), format('PUBLIC has %s', a.privilege_type)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(coalesce(c.relacl, acldefault((case when c.relkind = 'S' then 's' else 'r' end)::"char", c.relowner))) a
  where n.nspname in ('app', 'app_private', 'pigeon_migrations', 'graphile_worker') and a.grantee = 0

  union all
  select 'public_privilege', format('%I.%I', n.nspname, c.relname), format('PUBLIC has %s on column %I', a.privilege_type, att.attname)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  join pg_attribute att on att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped and att.attacl is not null
  cross join lateral aclexplode(att.attacl) a
  where n.nspname in ('app', 'app_private', 'pigeon_migrations', 'graphile_worker') and a.grantee = 0

  union all
  -- A function's default ACL (proacl null) includes EXECUTE for PUBLIC.
  select 'public_privilege', format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
         case when p.proacl is null then 'PUBLIC can EXECUTE (default ACL: never revoked)' else 'PUBLIC can EXECUTE' end
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  where n.nspname in ('app', 'app_private')
    and exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f'::"char", p.proowner))) a
                where a.grantee = 0 and a.privilege_type = 'EXECUTE')

  union all
  select 'public_privilege', n.nspname, format('PUBLIC has %s on the schema', a.privilege_type)
  from pg_namespace n
  cross join lateral aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a
  where a.grantee = 0
    and (n.nspname in ('app', 'app_private', 'pigeon_migrations', 'graphile_worker')
         -- USAGE on public is normal (citext lives there); CREATE lets anyone plant objects.
         or (n.nspname = 'public' and a.privilege_type = 'CREATE'))

  union all
  select 'public_privilege', format('database %I', d.datname), format('PUBLIC has %s', a.privilege_type)
  from pg_database d
  cross join lateral aclexplode(coalesce(d.datacl, acldefault('d'::"char", d.datdba))) a
  where d.datname = current_database() and a.grantee = 0

  union all
  select 'audit_events_mutable', format('%I.%I', n.nspname, c.relname), format('%s has %s', r.rolname, pv.priv)
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  cross join runtime_roles r
  cross join (values ('UPDATE'), ('DELETE')) as pv(priv)
  where n.nspname = 'app' and c.relname = 'audit_events'
    and case pv.priv
          when 'UPDATE' then has_any_column_privilege(r.oid, c.oid, 'UPDATE')
          else has_table_privilege(r.oid, c.oid, 'DELETE')
        end
)
select check_name::text, object_name::text, detail::text
from findings
order by check_name, object_name, detail;
