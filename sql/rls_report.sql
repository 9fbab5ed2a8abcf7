-- Row-level security report for Pigeon.
--
--   psql "$DATABASE_URL" -f sql/rls_report.sql
--
-- Run it as a superuser or the owner role. Two result sets:
--   1. INVENTORY: one row per table of the application schemas (app, app_private): RLS
--      enabled / forced, every policy (command, roles, USING, WITH CHECK), the run-time
--      roles' privileges, and whether it is a tenant table.
--   2. FINDINGS: one row per problem (check_name, object_name, detail). An empty result
--      means every check passed. test/rls-report.test.ts runs this file and fails on any
--      finding that is not on its short, commented allowlist.
--
-- A "tenant table" has a shop_id column, or is app.shops itself (its id is the shop id).
-- The run-time roles are pigeon_api and pigeon_worker.

-- 1. INVENTORY -------------------------------------------------------------------------
select
  n.nspname as schema,
  c.relname as "table",
  c.relrowsecurity as rls_enabled,
  c.relforcerowsecurity as rls_forced,
  (exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'shop_id' and not a.attisdropped)
     or (n.nspname, c.relname) = ('app', 'shops')) as tenant_table,
  coalesce((
    select string_agg(
      format('%s %s to %s%s%s', p.polname,
        case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end,
        case when p.polroles = '{0}' then 'public'
             else (select string_agg(r.rolname, ',' order by r.rolname) from pg_roles r where r.oid = any (p.polroles)) end,
        case when p.polqual is not null then ' USING' else '' end,
        case when p.polwithcheck is not null then ' WITH CHECK' else '' end),
      '; ' order by p.polname)
    from pg_policy p where p.polrelid = c.oid), '') as policies,
  concat_ws(' ',
    'pigeon_api:', nullif(concat_ws(',',
      case when has_table_privilege('pigeon_api', c.oid, 'SELECT') then 'SELECT' end,
      case when has_table_privilege('pigeon_api', c.oid, 'INSERT') then 'INSERT'
           when has_any_column_privilege('pigeon_api', c.oid, 'INSERT') then 'INSERT(cols)' end,
      case when has_table_privilege('pigeon_api', c.oid, 'UPDATE') then 'UPDATE'
           when has_any_column_privilege('pigeon_api', c.oid, 'UPDATE') then 'UPDATE(cols)' end,
      case when has_table_privilege('pigeon_api', c.oid, 'DELETE') then 'DELETE' end), ''),
    '| pigeon_worker:', nullif(concat_ws(',',
      case when has_table_privilege('pigeon_worker', c.oid, 'SELECT') then 'SELECT' end,
      case when has_table_privilege('pigeon_worker', c.oid, 'INSERT') then 'INSERT'
           when has_any_column_privilege('pigeon_worker', c.oid, 'INSERT') then 'INSERT(cols)' end,
      case when has_table_privilege('pigeon_worker', c.oid, 'UPDATE') then 'UPDATE'
           when has_any_column_privilege('pigeon_worker', c.oid, 'UPDATE') then 'UPDATE(cols)' end,
      case when has_table_privilege('pigeon_worker', c.oid, 'DELETE') then 'DELETE' end), '')
  ) as runtime_grants,
  pg_get_userbyid(c.relowner) as owner
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname in ('app', 'app_private') and c.relkind in ('r', 'p')
order by 1, 2;

-- 2. FINDINGS --------------------------------------------------------------------------
with
app_tables as (
  select c.oid, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname) as name,
         c.relrowsecurity, c.relforcerowsecurity, c.relowner
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('app', 'app_private') and c.relkind in ('r', 'p')
),
tenant_tables as (
  select t.*, (t.nspname, t.relname) = ('app', 'shops') as is_shops
  from app_tables t
  where (t.nspname, t.relname) = ('app', 'shops')
     or exists (select 1 from pg_attribute a where a.attrelid = t.oid and a.attname = 'shop_id' and not a.attisdropped)
),
runtime_roles as (
  select oid, rolname, rolbypassrls, rolsuper from pg_roles where rolname in ('pigeon_api', 'pigeon_worker')
),
-- The column that carries the tenant: shop_id, or id for app.shops.
tenant_key as (
  select t.oid, a.attnum
  from tenant_tables t
  join pg_attribute a on a.attrelid = t.oid and a.attname = case when t.is_shops then 'id' else 'shop_id' end
),
-- Policies that apply to a run-time role for a command (ALL counts for every command).
role_policies as (
  select t.oid, r.rolname, cmd.cmd, p.polqual is not null as has_using, p.polwithcheck is not null as has_check, p.polcmd
  from tenant_tables t
  cross join runtime_roles r
  cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE')) as cmd(cmd)
  join pg_policy p on p.polrelid = t.oid
    and (p.polroles = '{0}' or r.oid = any (p.polroles))
    and (p.polcmd = '*' or p.polcmd = case cmd.cmd when 'SELECT' then 'r' when 'INSERT' then 'a' when 'UPDATE' then 'w' else 'd' end)
),
granted as (
  select t.oid, t.name, r.rolname, cmd.cmd
  from tenant_tables t
  cross join runtime_roles r
  cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE')) as cmd(cmd)
  where case when cmd.cmd = 'DELETE' then has_table_privilege(r.oid, t.oid, 'DELETE')
             else has_any_column_privilege(r.oid, t.oid, cmd.cmd) end
),
findings as (
  -- Every application table enables RLS (graphile/starter convention): a table a run-time
  -- role is granted later is then closed until a policy opens it.
  select 'rls_not_enabled' as check_name, name as object_name, 'row level security is not enabled' as detail
  from app_tables where not relrowsecurity

  union all
  -- FORCE: the owner is subject to the policies too, so no owner connection reads everything.
  select 'rls_not_forced', name, 'tenant table without FORCE ROW LEVEL SECURITY'
  from tenant_tables where not relforcerowsecurity

  union all
  -- Each privilege a run-time role holds must be governed by a policy: USING for the rows it
  -- may see or change, an explicit WITH CHECK for the rows it may write.
  select 'policy_missing_using_or_check', g.name,
         format('%s %s: %s', g.rolname, g.cmd,
           case when g.cmd in ('SELECT', 'DELETE') then 'no policy with USING'
                when g.cmd = 'INSERT' then 'no policy with WITH CHECK'
                else 'no policy with both USING and WITH CHECK' end)
  from granted g
  where case g.cmd
    when 'SELECT' then not exists (select 1 from role_policies p where p.oid = g.oid and p.rolname = g.rolname and p.cmd = 'SELECT' and p.has_using)
    when 'DELETE' then not exists (select 1 from role_policies p where p.oid = g.oid and p.rolname = g.rolname and p.cmd = 'DELETE' and p.has_using)
    when 'INSERT' then not exists (select 1 from role_policies p where p.oid = g.oid and p.rolname = g.rolname and p.cmd = 'INSERT' and p.has_check)
    else not exists (select 1 from role_policies p where p.oid = g.oid and p.rolname = g.rolname and p.cmd = 'UPDATE' and p.has_using and p.has_check)
  end

  union all
  -- A policy for ALL or UPDATE without WITH CHECK silently reuses USING; Pigeon states it.
  select 'policy_missing_using_or_check', format('%s (policy %s)', t.name, p.polname), 'ALL/UPDATE policy without an explicit WITH CHECK'
  from tenant_tables t join pg_policy p on p.polrelid = t.oid
  where p.polcmd in ('*', 'w') and p.polwithcheck is null

  union all
  select 'policy_without_role', format('%s (policy %s)', t.name, p.polname), 'policy applies TO public; name the roles'
  from app_tables t join pg_policy p on p.polrelid = t.oid
  where p.polroles = '{0}'

  union all
  -- Unique checks bypass RLS: a key without shop_id lets one shop learn of another's rows.
  select 'unique_without_shop_id', t.name, format('%s: %s', i.indexrelid::regclass, pg_get_indexdef(i.indexrelid))
  from tenant_tables t
  join pg_index i on i.indrelid = t.oid and i.indisunique
  join tenant_key k on k.oid = t.oid
  where not (k.attnum = any (i.indkey::int2[]))

  union all
  -- Foreign keys also bypass RLS: without shop_id a row could point at another shop's row.
  select 'fk_without_shop_id', t.name, format('%s: %s', con.conname, pg_get_constraintdef(con.oid))
  from tenant_tables t
  join pg_constraint con on con.conrelid = t.oid and con.contype = 'f'
  join tenant_key k on k.oid = t.oid
  where not (k.attnum = any (con.conkey))

  union all
  select 'no_index_led_by_shop_id', t.name, 'no index whose first column is shop_id'
  from tenant_tables t
  join tenant_key k on k.oid = t.oid
  where not t.is_shops
    and not exists (select 1 from pg_index i where i.indrelid = t.oid and i.indkey[0] = k.attnum)

  union all
  select 'security_definer_without_search_path', p.oid::regprocedure::text, 'SECURITY DEFINER function without SET search_path'
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where p.prosecdef
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
    and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
    and not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) cfg where cfg like 'search_path=%')

  union all
  select 'view_without_security_invoker', format('%I.%I', n.nspname, c.relname), 'view runs with its owner''s rights (set security_invoker = true)'
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('app', 'app_private') and c.relkind = 'v'
    and not exists (select 1 from unnest(coalesce(c.reloptions, '{}')) o where lower(o) in ('security_invoker=true', 'security_invoker=on', 'security_invoker=1'))

  union all
  select 'runtime_role_bypasses_rls', rolname, case when rolsuper then 'is a superuser' else 'has BYPASSRLS' end
  from runtime_roles where rolbypassrls or rolsuper

  union all
  select 'runtime_role_missing', r.rolname, 'role does not exist'
  from (values ('pigeon_api'), ('pigeon_worker')) as r(rolname)
  where not exists (select 1 from runtime_roles x where x.rolname = r.rolname)

  union all
  -- pigeon_worker owning objects in graphile_worker is by design and not looked at here.
  select 'runtime_role_owns_table', format('%I.%I', n.nspname, c.relname), format('owned by %s', r.rolname)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace join runtime_roles r on r.oid = c.relowner
  where n.nspname in ('app', 'app_private', 'pigeon_migrations', 'public')

  union all
  select 'runtime_role_forbidden_privilege', t.name, format('%s has %s', r.rolname, priv.p)
  from app_tables t cross join runtime_roles r cross join (values ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) as priv(p)
  where case when priv.p = 'REFERENCES' then has_any_column_privilege(r.oid, t.oid, 'REFERENCES')
             else has_table_privilege(r.oid, t.oid, priv.p) end

  union all
  select 'public_privilege', format('%I.%I', n.nspname, c.relname), format('PUBLIC has %s', a.privilege_type)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(c.relacl) a
  where n.nspname in ('app', 'app_private', 'pigeon_migrations') and a.grantee = 0

  union all
  -- A function with no ACL (proacl is null) is executable by PUBLIC.
  select 'public_privilege', p.oid::regprocedure::text, 'PUBLIC can EXECUTE'
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where n.nspname in ('app', 'app_private')
    and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE'))

  union all
  select 'public_privilege', n.nspname, format('PUBLIC has %s on the schema', a.privilege_type)
  from pg_namespace n cross join lateral aclexplode(n.nspacl) a
  where n.nspname in ('app', 'app_private', 'pigeon_migrations', 'graphile_worker') and a.grantee = 0

  union all
  select 'audit_events_mutable', 'app.audit_events', format('%s has %s', r.rolname, priv.p)
  from runtime_roles r cross join (values ('UPDATE'), ('DELETE')) as priv(p)
  where to_regclass('app.audit_events') is not null
    and case when priv.p = 'UPDATE' then has_any_column_privilege(r.oid, 'app.audit_events', 'UPDATE')
             else has_table_privilege(r.oid, 'app.audit_events', priv.p) end
)
select check_name, object_name, detail from findings order by check_name, object_name, detail;
